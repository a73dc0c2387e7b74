/**
 * `bonsai ready` asks the address a daemon on `server.host` is reached by: loopback for the
 * unspecified addresses, the address or name itself otherwise (test/deploy/systemd.test.ts runs it
 * as the unit's ExecStartPost against a daemon on 127.0.0.2 and a server on ::1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeHost, probeUrl } from '../../cli/commands/ready.ts';

test('probeHost: 0.0.0.0 and :: (every spelling) by loopback, every other host value as it is', () => {
  const cases: [string, string][] = [
    ['0.0.0.0', '127.0.0.1'],
    ['::', '::1'],
    ['::0', '::1'],
    ['0:0:0:0:0:0:0:0', '::1'],
    ['127.0.0.1', '127.0.0.1'],
    ['10.0.0.5', '10.0.0.5'],
    ['::1', '::1'],
    ['fd00::5', 'fd00::5'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['localhost', 'localhost'],
    ['bonsai.example.org', 'bonsai.example.org'],
  ];
  for (const [host, want] of cases) assert.equal(probeHost(host), want, host);
});

test('probeUrl: an IPv6 address in brackets', () => {
  assert.equal(probeUrl('127.0.0.2', 8080), 'http://127.0.0.2:8080');
  assert.equal(probeUrl('::1', 8080), 'http://[::1]:8080');
  assert.equal(probeUrl('localhost', 9), 'http://localhost:9');
});
