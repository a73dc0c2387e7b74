/**
 * deploy/Dockerfile's HEALTHCHECK, run as Docker would (its exec form, with the container's
 * environment), asks /healthz where BONSAI_HOST says the daemon listens: loopback for 0.0.0.0
 * and ::, the address itself otherwise; it fails when nothing answers there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const DOCKERFILE = fileURLToPath(new URL('../../deploy/Dockerfile', import.meta.url));

/** The HEALTHCHECK's command, continuation lines joined: its exec form's arguments. */
function healthcheckCommand(): string[] {
  const text = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n\s*/g, '');
  const m = /^HEALTHCHECK .* CMD (\[.*\])$/m.exec(text);
  assert.ok(m, 'no HEALTHCHECK ... CMD [...] in the Dockerfile');
  return JSON.parse(m[1]) as string[];
}

/** Runs the HEALTHCHECK with this Node and `env`: its exit status. */
function runHealthcheck(env: Record<string, string>): Promise<number | null> {
  const [program, ...args] = healthcheckCommand();
  assert.equal(program, 'node');
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve(code);
  }));
}

/** A server on `host` answering /healthz 200; null where `host` is no address here. */
async function healthz(host: string): Promise<{ server: Server; port: number } | null> {
  const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => resolve(true));
  });
  return ok ? { server, port: (server.address() as AddressInfo).port } : null;
}

test('Dockerfile HEALTHCHECK asks /healthz where BONSAI_HOST listens', { timeout: 60_000 }, async (t) => {
  // [BONSAI_HOST, where the daemon listens]
  const cases: [string, string][] = [['0.0.0.0', '127.0.0.1'], ['127.0.0.2', '127.0.0.2'], ['::', '::1'], ['::1', '::1']];
  for (const [bonsaiHost, listen] of cases) {
    const up = await healthz(listen);
    if (up === null) {
      t.diagnostic(`${listen} is no address here: BONSAI_HOST=${bonsaiHost} not checked`);
      continue;
    }
    try {
      assert.equal(await runHealthcheck({ BONSAI_HOST: bonsaiHost, BONSAI_PORT: String(up.port) }), 0, `BONSAI_HOST=${bonsaiHost}, daemon on ${listen}`);
    } finally {
      up.server.close();
    }
    // Nothing there now: unhealthy.
    assert.equal(await runHealthcheck({ BONSAI_HOST: bonsaiHost, BONSAI_PORT: String(up.port) }), 1, `BONSAI_HOST=${bonsaiHost}, nothing listening`);
  }
});

test('Dockerfile HEALTHCHECK: BONSAI_SERVER__HOST and __PORT win over BONSAI_HOST and BONSAI_PORT, as in the config; :: falls back to 127.0.0.1', { timeout: 60_000 }, async (t) => {
  const up = await healthz('127.0.0.2');
  if (up === null) {
    t.skip('127.0.0.2 is no address here');
    return;
  }
  try {
    assert.equal(await runHealthcheck({ BONSAI_HOST: '0.0.0.0', BONSAI_SERVER__HOST: '127.0.0.2', BONSAI_PORT: '9', BONSAI_SERVER__PORT: String(up.port) }), 0);
  } finally {
    up.server.close();
  }
  // A daemon on :: reached over IPv4 only (a container without ::1): here, a server on 127.0.0.1.
  const v4 = await healthz('127.0.0.1');
  assert.ok(v4 !== null);
  try {
    assert.equal(await runHealthcheck({ BONSAI_HOST: '::', BONSAI_PORT: String(v4.port) }), 0);
  } finally {
    v4.server.close();
  }
});
