import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `bonsai start` and resolves with its exit code and output. */
function start(args: string[], nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeArgs, 'bin/bonsai.js', 'start', ...args], { env: { ...process.env, BONSAI_CONFIG: '', BONSAI_LOG_LEVEL: 'error', ...env } });
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

test('bonsai start on 0.0.0.0 where the network interfaces cannot be listed exits with BONSAI_DAEMON_LISTEN_FAILED and releases its locks', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-netlink-'));
  try {
    const config = join(stateDir, 'bonsai.yaml');
    writeFileSync(config, 'server:\n  host: 0.0.0.0\n');
    const { code, out } = await start(['--state-dir', stateDir, '--port', '0'], ['--import', join(import.meta.dirname, 'no-netlink-preload.mjs')], { BONSAI_CONFIG: config });
    assert.equal(code, 1, out);
    assert.match(out, /BONSAI_DAEMON_LISTEN_FAILED: cannot listen on 0\.0\.0\.0:0: the network interfaces cannot be listed .*AF_NETLINK/);
    assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(stateDir, 'daemon.lock')), 'the state lock is released');
    assert.ok(!existsSync(join(stateDir, 'store.db.lock')), 'the store lock is released');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('an error nothing catches is one coded line with its stack, exit 1 and the locks released, not the wasm module\'s source', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-fatal-'));
  try {
    const child = spawn(process.execPath, ['--import', join(import.meta.dirname, 'fatal-preload.mjs'), 'bin/bonsai.js', 'start', '--state-dir', stateDir, '--port', '0'],
      { env: { ...process.env, BONSAI_CONFIG: '', BONSAI_LOG_LEVEL: 'info', BONSAI_LOG_FORMAT: 'json' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('utf8'); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started = Date.now();
    while (!out.includes('daemon.started')) {
      if (Date.now() - started > 60_000) assert.fail(`the daemon did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGUSR2');
    assert.equal(await exited, 1, out);
    assert.match(out, /BONSAI_DAEMON_FATAL: uncaught exception: Error: a bug nothing caught\n\s+at /);
    assert.doesNotMatch(out, /WasmBackendModule|Emscripten/, 'not the wasm module\'s source');
    assert.ok(!existsSync(join(stateDir, 'daemon.lock')), 'the state lock is released');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

for (const [signal, status] of [['SIGTERM', 0], ['SIGHUP', 129]] as const) test(`${signal} while bonsai start is starting stops the parts started and exits ${status}, its locks released`, async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-early-signal-'));
  try {
    const { code, out } = await start(['--state-dir', stateDir, '--port', '0'], ['--import', join(import.meta.dirname, 'signal-at-start-preload.mjs')],
      { BONSAI_LOG_LEVEL: 'debug', BONSAI_LOG_FORMAT: 'json', BONSAI_TEST_START_SIGNAL: signal });
    assert.equal(code, status, out);
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message: string; plugin?: string });
    const names = events.map((e) => e.message);
    assert.ok(names.includes('daemon.stop_while_starting'), out);
    assert.ok(!names.includes('daemon.started'), 'the start gave up');
    assert.ok(events.some((e) => e.message === 'plugin.stopped' && e.plugin === 'state-lock'), 'the lock part was stopped');
    assert.ok(!existsSync(join(stateDir, 'daemon.lock')), 'the state lock is released');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
