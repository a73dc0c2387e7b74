import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `bonsai start` and resolves with its exit code and output. */
function start(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/bonsai.js', 'start', ...args], { env: { ...process.env, BONSAI_CONFIG: '', BONSAI_LOG_LEVEL: 'error' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

test('bonsai start on a port in use exits with BONSAI_DAEMON_LISTEN_FAILED and the port, not a stack trace', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as AddressInfo).port;
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-listen-'));
  try {
    const { code, out } = await start(['--state-dir', stateDir, '--port', String(port)]);
    assert.equal(code, 1, out);
    assert.match(out, new RegExp(`BONSAI_DAEMON_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
  } finally {
    busy.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
