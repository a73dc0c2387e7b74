/** The daemon's lifecycle: plugin order, failed starts, signals, the state-directory lock, `bonsai start`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BonsaiError } from '../../core/errors.ts';
import { Lifecycle, assertLifecycle, handleSignals, type Plugin } from '../../daemon/lifecycle.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { STATE_LOCK_FILE } from '../../daemon/watch/index.ts';
import { drop, FAST_UPDATE, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

function recorder(calls: string[], name: string, failStart = false): Plugin {
  return {
    name,
    async start() {
      calls.push(`start ${name}`);
      if (failStart) throw new BonsaiError('BONSAI_DAEMON_BAD_STATE', `${name} cannot start`);
    },
    async stop(reason) { calls.push(`stop ${name} (${reason})`); },
  };
}

test('plugins start in order and stop in reverse; stop is idempotent', async () => {
  const calls: string[] = [];
  const life = new Lifecycle(['lock', 'store', 'http', 'watcher'].map((n) => recorder(calls, n)), new MemoryLog());
  await life.start();
  assert.equal(life.state, 'running');
  const [a, b] = [life.stop('SIGTERM'), life.stop('again')];
  await Promise.all([a, b]);
  await life.stopped;
  assert.equal(life.state, 'stopped');
  assert.deepEqual(calls, ['start lock', 'start store', 'start http', 'start watcher',
    'stop watcher (SIGTERM)', 'stop http (SIGTERM)', 'stop store (SIGTERM)', 'stop lock (SIGTERM)']);
  assert.throws(() => assertLifecycle('stopped', 'starting'), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_BAD_STATE' && /stopped to starting/.test(e.message));
  await assert.rejects(life.start(), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_BAD_STATE');
});

test('a failed start stops the plugins already started, in reverse, and rethrows', async () => {
  const calls: string[] = [];
  const log = new MemoryLog();
  const life = new Lifecycle([recorder(calls, 'lock'), recorder(calls, 'store'), recorder(calls, 'http', true), recorder(calls, 'watcher')], log);
  await assert.rejects(life.start(), /http cannot start/);
  assert.deepEqual(calls, ['start lock', 'start store', 'start http', 'stop store (start of http failed)', 'stop lock (start of http failed)']);
  assert.equal(life.state, 'stopped');
  assert.equal(log.named('daemon.start_failed')[0].plugin, 'http');
});

test('the first signal stops gracefully, the second exits at once', async () => {
  const log = new MemoryLog();
  const stops: string[] = [];
  const exits: string[] = [];
  const unhook = handleSignals({ stop: (reason) => { stops.push(reason); return new Promise(() => {}); } }, log, { signals: ['SIGUSR2'], exitNow: (s) => exits.push(s) });
  try {
    process.emit('SIGUSR2', 'SIGUSR2');
    assert.deepEqual(stops, ['signal SIGUSR2']);
    assert.deepEqual(exits, []);
    process.emit('SIGUSR2', 'SIGUSR2');
    assert.deepEqual(exits, ['SIGUSR2']);
    assert.equal(stops.length, 1);
    assert.equal(log.named('daemon.exit_now').length, 1);
  } finally {
    unhook();
  }
  assert.equal(process.listenerCount('SIGUSR2'), 0);
});

test('one daemon per state directory: a second one fails with BONSAI_DAEMON_STATE_LOCKED and the first keeps running', async () => {
  const stateDir = tempStateDir();
  const config = testConfig(stateDir);
  const first = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
  try {
    assert.ok(existsSync(join(stateDir, STATE_LOCK_FILE)));
    await assert.rejects(startDaemon(config, { model: TINY_MODEL, log: new MemoryLog(), defaultMetrics: false }),
      (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_STATE_LOCKED' && e.details.pid === process.pid);
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200);
  } finally {
    await first.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  assert.equal(existsSync(join(stateDir, STATE_LOCK_FILE)), false);
});

test('a trainer with every update trigger off says so once at start (trigger.none_enabled); one with a trigger says nothing', async () => {
  const off = { triggers: { pendingCount: null, pendingFraction: null, cron: null, maxWaitSec: null } };
  for (const [role, extra, warned] of [['trainer', off, 1], ['all', off, 1], ['all', {}, 0], ['trainer', { triggers: { ...off.triggers, cron: '0 3 * * *' } }, 0]] as const) {
    const stateDir = tempStateDir();
    const log = new MemoryLog();
    const d = await startDaemon(testConfig(stateDir, { role, ...extra }), { model: TINY_MODEL, log, defaultMetrics: false });
    try {
      const lines = log.events.filter((e) => e.event === 'trigger.none_enabled');
      assert.equal(lines.length, warned, `${role} ${JSON.stringify(extra)}`);
      if (warned === 0) continue;
      assert.equal(lines[0].level, 'warn');
      assert.match(String(lines[0].fields.reason), /pendingCount, pendingFraction, cron and maxWaitSec are all null\): the first model still starts at triggers\.initialCount \(40\) samples; after it, updates run only when asked \(POST \/v1\/updates, bonsai update\)/);
      // Said at start, before the daemon serves.
      assert.ok(log.events.findIndex((e) => e.event === 'trigger.none_enabled') < log.events.findIndex((e) => e.event === 'daemon.started'));
    } finally {
      await d.stop();
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
});

test('stopping during an update aborts it cleanly; the next start trains on the same samples', async () => {
  const stateDir = tempStateDir();
  const config = testConfig(stateDir);
  const log = new MemoryLog();
  const d = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
  let stopping: Promise<void> | null = null;
  d.events.on('progress', (_state, p) => {
    if (p.kind === 'epoch') stopping ??= d.stop('SIGTERM');
  });
  try {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('the stop', () => stopping !== null, 45_000);
    await stopping;
    const aborted = log.named('update.aborted');
    assert.equal(aborted.length, 1);
    assert.equal(aborted[0].code, 'BONSAI_DAEMON_UPDATE_ABORTED');
    assert.equal(d.updater.last()?.outcome, 'aborted');
    assert.deepEqual(readdirSync(join(stateDir, 'models')).filter((n) => /^\d+$|^\.staging-/.test(n)), []);
    assert.ok(log.events.findIndex((e) => e.event === 'watch.stopped') < log.events.findIndex((e) => e.event === 'update.aborted'));
  } finally {
    await d.stop();
  }
  const again = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
  try {
    assert.equal(again.store.counts().pending, 40);
    await waitFor('version 1', () => again.holder.version === 1 && !again.scheduler.busy, 45_000);
    assert.equal(again.store.counts().pending, 0);
  } finally {
    await again.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

for (const [signal, status] of [['SIGTERM', 0], ['SIGHUP', 129]] as const) test(`bonsai start runs until ${signal}, then stops cleanly with status ${status}`, async () => {
  const stateDir = tempStateDir();
  const file = join(stateDir, 'bonsai.json');
  const config = testConfig(stateDir, { log: { level: 'info', format: 'json' } });
  writeFileSync(file, JSON.stringify({ ...config, stateDir: undefined, server: { ...config.server, port: 8080 } }));
  const cli = fileURLToPath(new URL('./e2e-cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), cli, 'start', '--config', file, '--state-dir', stateDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BONSAI_TOKEN: '' } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const line = await waitFor('http.listening', () => out.split('\n').find((l) => l.includes('"http.listening"')), 20_000);
    const url = (JSON.parse(line) as { url: string }).url;
    // The signal is for a running daemon (one during the start is start-errors.test.ts's): the watcher starts after HTTP.
    await waitFor('daemon.started', () => out.includes('"daemon.started"'), 20_000);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    child.kill(signal);
    assert.equal(await exit, status);
    const events = out.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { message: string }).message);
    for (const e of ['daemon.started', 'daemon.signal', 'watch.stopped', 'daemon.stopped']) assert.ok(events.includes(e), `${e} not logged:\n${out}`);
    assert.ok(events.indexOf('watch.stopped') < events.indexOf('daemon.stopped'));
    assert.equal(existsSync(join(stateDir, STATE_LOCK_FILE)), false);
  } finally {
    child.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a stop asked while starting lets the part being started finish, stops every started part in reverse and ends the start with BONSAI_DAEMON_STOPPED_WHILE_STARTING', async () => {
  const calls: string[] = [];
  let release = (): void => undefined;
  const slow: Plugin = {
    name: 'backend',
    async start() {
      calls.push('start backend');
      await new Promise<void>((r) => (release = r));
      calls.push('backend ready');
    },
    async stop(reason) { calls.push(`stop backend (${reason})`); },
  };
  const log = new MemoryLog();
  const life = new Lifecycle([recorder(calls, 'lock'), slow, recorder(calls, 'http'), recorder(calls, 'watcher')], log);
  const starting = life.start();
  await waitFor('the slow part', () => calls.includes('start backend'), 5000, 1);
  const [a, b] = [life.stop('signal SIGTERM'), life.stop('again')];
  assert.equal(life.state, 'starting', 'nothing is stopped under the part being started');
  release();
  await assert.rejects(starting, (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_STOPPED_WHILE_STARTING'
    && /signal SIGTERM/.test(e.message) && /lock, backend/.test(e.message) && /http and those after it were not started/.test(e.message));
  await Promise.all([a, b, life.stopped]);
  assert.equal(life.state, 'stopped');
  assert.deepEqual(calls, ['start lock', 'start backend', 'backend ready', 'stop backend (signal SIGTERM)', 'stop lock (signal SIGTERM)']);
  assert.equal(log.named('daemon.stop_while_starting').length, 1);
  await life.stop('once more');
});
