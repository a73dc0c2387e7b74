/**
 * `bonsai ready` asks the address a daemon on `server.host` is reached by: loopback for the
 * unspecified addresses, the address or name itself otherwise (test/deploy/systemd.test.ts runs it
 * as the unit's ExecStartPost against a daemon on 127.0.0.2 and a server on ::1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeHosts, probeUrl } from '../../cli/commands/ready.ts';

test('probeHosts: 0.0.0.0 by 127.0.0.1, :: (every spelling) by ::1 then 127.0.0.1, every other host value as it is', () => {
  // :: serves IPv4 too, and a host with IPv6 disabled (or a container on an IPv4-only network) has no ::1.
  const cases: [string, string[]][] = [
    ['0.0.0.0', ['127.0.0.1']],
    ['::', ['::1', '127.0.0.1']],
    ['::0', ['::1', '127.0.0.1']],
    ['0:0:0:0:0:0:0:0', ['::1', '127.0.0.1']],
    ['127.0.0.1', ['127.0.0.1']],
    ['10.0.0.5', ['10.0.0.5']],
    ['::1', ['::1']],
    ['fd00::5', ['fd00::5']],
    ['fe80::1%eth0', ['fe80::1%eth0']],
    ['localhost', ['localhost']],
    ['bonsai.example.org', ['bonsai.example.org']],
  ];
  for (const [host, want] of cases) assert.deepEqual(probeHosts(host), want, host);
});

test('probeUrl: an IPv6 address in brackets', () => {
  assert.equal(probeUrl('127.0.0.2', 8080), 'http://127.0.0.2:8080');
  assert.equal(probeUrl('::1', 8080), 'http://[::1]:8080');
  assert.equal(probeUrl('localhost', 9), 'http://localhost:9');
});
