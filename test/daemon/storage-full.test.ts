/**
 * A full disk under the state directory (daemon/storage.ts): told apart from other
 * failures by its code only, reported once per episode, and nothing accepted lost:
 * inbox files wait and are ingested once space returns; an update that cannot write
 * fails with BONSAI_DAEMON_STORAGE_FULL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { BonsaiError } from '../../core/errors.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { noSpaceCode, StorageHealth, systemErrorCode } from '../../daemon/storage.ts';
import { errorToWire } from '../../daemon/trainer/protocol.ts';
import type { TrainerHandle } from '../../daemon/trainer/index.ts';
import { drop, FAST_UPDATE, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

/** What node:fs throws on a full disk. */
function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error("ENOSPC: no space left on device, write '/state/models/.staging-1/weights.bin'"), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** What better-sqlite3 throws on a full disk (a SqliteError carries the result code as `code`). */
function sqliteFull(): Error {
  return Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
}

test('noSpaceCode: ENOSPC, EDQUOT and SQLITE_FULL by code, in a cause or in details.errno; never by message', () => {
  assert.equal(noSpaceCode(enospc()), 'ENOSPC');
  assert.equal(noSpaceCode(Object.assign(new Error('quota'), { code: 'EDQUOT' })), 'EDQUOT');
  assert.equal(noSpaceCode(new BonsaiError('BONSAI_INGEST_COMMIT_FAILED', 'store commit of 3 files failed: database or disk is full', {}, { cause: sqliteFull() })), 'SQLITE_FULL');
  // The trainer child's error, as the parent rebuilds it from the wire.
  assert.equal(noSpaceCode(new BonsaiError('BONSAI_DAEMON_TRAINER_FAILED', 'trainer: ENOSPC: no space left on device', { errno: 'ENOSPC' })), 'ENOSPC');
  // Other errors, and a message that only names the errno (a user's file can be called ENOSPC.png).
  assert.equal(noSpaceCode(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' })), null);
  assert.equal(noSpaceCode(new Error('cannot decode /inbox/a/ENOSPC.png: database or disk is full')), null);
  assert.equal(noSpaceCode(new BonsaiError('BONSAI_INGEST_COMMIT_FAILED', 'x', {})), null);
  assert.equal(noSpaceCode(undefined), null);
  assert.equal(noSpaceCode('ENOSPC'), null);
  // A cause chain that loops ends.
  const a = new Error('a') as Error & { cause?: unknown };
  a.cause = a;
  assert.equal(noSpaceCode(a), null);
});

test('errorToWire sends a system error code, here or in a cause, as details.errno', () => {
  const plain = errorToWire(enospc());
  assert.equal(plain.code, 'BONSAI_DAEMON_TRAINER_FAILED');
  assert.equal(plain.details.errno, 'ENOSPC');
  const wrapped = errorToWire(new BonsaiError('BONSAI_REGISTRY_PUBLISH_FAILED', 'cannot write version 3', { version: 3 }, { cause: enospc() }));
  assert.equal(wrapped.code, 'BONSAI_REGISTRY_PUBLISH_FAILED');
  assert.deepEqual(wrapped.details, { version: 3, errno: 'ENOSPC' });
  assert.equal(errorToWire(new Error('plain')).details.errno, undefined);
  assert.equal(systemErrorCode(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), undefined);
});

test('StorageHealth reports an episode once, counts every failure it explains, and its end once', () => {
  const log = new MemoryLog();
  const registers = [new Registry()];
  const full = new Gauge({ name: 'full', help: 'h', registers });
  const errors = new Counter({ name: 'errors', help: 'h', labelNames: ['site'], registers });
  let t = Date.parse('2026-01-01T00:00:00Z');
  const health = new StorageHealth({ log, stateDir: '/', full, errors, now: () => t });
  assert.equal(health.failed('ingest', new Error('other')), false);
  for (let i = 0; i < 5; i++) assert.equal(health.failed('ingest', sqliteFull(), { source: `a/${i}.png` }), true);
  assert.equal(health.failed('update', enospc()), true);
  assert.equal(log.named('storage.full').length, 1);
  const [event] = log.named('storage.full');
  assert.equal(event.code, 'BONSAI_DAEMON_STORAGE_FULL');
  assert.equal(event.errno, 'SQLITE_FULL');
  assert.equal(event.site, 'ingest');
  assert.equal(event.source, 'a/0.png');
  assert.equal(typeof event.freeBytes, 'number');
  assert.equal(log.named('storage.full_again').length, 5);
  const status = health.status();
  assert.deepEqual({ ...status, freeBytes: null }, { full: true, since: '2026-01-01T00:00:00.000Z', site: 'ingest', errno: 'SQLITE_FULL', failures: 6, freeBytes: null, episodes: 1 });
  assert.equal((full as unknown as { hashMap: Record<string, { value: number }> }).hashMap[''].value, 1);
  t += 42_000;
  health.succeeded('ingest');
  health.succeeded('ingest');
  assert.deepEqual(log.named('storage.recovered').map((e) => [e.site, e.seconds, e.failures]), [['ingest', 42, 6]]);
  assert.equal(health.full, false);
  assert.equal((full as unknown as { hashMap: Record<string, { value: number }> }).hashMap[''].value, 0);
  // A second episode is reported again.
  health.failed('registry', enospc());
  assert.equal(log.named('storage.full').length, 2);
  assert.equal(health.status().episodes, 2);
});

test('the daemon with a full store: files wait in the inbox, one storage.full and no ingest.failed, all ingested once space returns', async () => {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir, { triggers: { pendingCount: 1000, initialCount: 1000 } }), { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
  try {
    let diskFull = true;
    const commit = d.store.commitIngest.bind(d.store);
    d.store.commitIngest = ((...args: Parameters<typeof commit>) => {
      if (diskFull) throw sqliteFull();
      return commit(...args);
    }) as typeof d.store.commitIngest;
    const inbox = join(stateDir, 'inbox');
    await drop(inbox, 6, 1);
    // Three reconcile scans (1 s each) find the six files again.
    await waitFor('three tries of every file', () => log.named('storage.full_again').length >= 6 * 3 - 1, 20_000);
    assert.equal(log.named('storage.full').length, 1);
    assert.equal(log.named('ingest.failed').length, 0);
    assert.equal(log.named('ingest.stuck').length, 0);
    const files = readdirSync(inbox, { recursive: true }).filter((f) => String(f).endsWith('.png'));
    assert.equal(files.length, 6, 'every file still in the inbox');
    const status = (await d.status()).storage as { full: boolean; errno: string; site: string };
    assert.deepEqual([status.full, status.errno, status.site], [true, 'SQLITE_FULL', 'ingest']);
    const text = await d.metrics.registry.metrics();
    assert.match(text, /^bonsai_storage_full 1$/m);
    assert.match(text, /^bonsai_storage_full_errors_total\{site="ingest"\} (\d+)$/m);

    diskFull = false;
    await waitFor('all six stored', () => d.store.counts().total === 6, 20_000);
    await waitFor('storage.recovered', () => log.named('storage.recovered').length === 1, 5_000);
    assert.equal((await d.status()).storage && ((await d.status()).storage as { full: boolean }).full, false);
    assert.match(await d.metrics.registry.metrics(), /^bonsai_storage_full 0$/m);
    assert.equal(log.named('storage.full').length, 1);
    assert.equal(log.named('ingest.failed').length, 0);
  } finally {
    await d.stop();
  }
});

test('an update that runs out of space fails with BONSAI_DAEMON_STORAGE_FULL, reported once, its samples still pending', async () => {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const failing = (): TrainerHandle => ({
    pid: undefined,
    // As the parent rebuilds the child's error (daemon/trainer/process.ts).
    result: Promise.reject(new BonsaiError('BONSAI_DAEMON_TRAINER_FAILED', `trainer: ${enospc().message}`, { ...errorToWire(enospc()).details })),
    kill: () => undefined,
  });
  const d = await startDaemon(testConfig(stateDir), { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false, startTrainer: failing });
  try {
    await drop(join(stateDir, 'inbox'), 40, 1);
    await waitFor('a failed update', () => d.updater.last()?.outcome === 'failed', 30_000);
    const last = d.updater.last();
    assert.equal(last?.error?.code, 'BONSAI_DAEMON_STORAGE_FULL');
    assert.match(last?.error?.message ?? '', /no space left under the state directory \(ENOSPC\)/);
    assert.equal(log.named('update.failed')[0].code, 'BONSAI_DAEMON_STORAGE_FULL');
    const full = log.named('storage.full');
    assert.equal(full.length, 1);
    assert.deepEqual([full[0].site, full[0].errno], ['update', 'ENOSPC']);
    assert.equal(d.store.counts().pending, 40);
    assert.equal(((await d.status()).storage as { full: boolean }).full, true);
  } finally {
    await d.stop();
  }
  // A disk that fills is not the only failure: another error keeps its own code.
  assert.equal(noSpaceCode(new BonsaiError('BONSAI_DAEMON_TRAINER_FAILED', 'trainer: out of memory', { name: 'RangeError' })), null);
});
