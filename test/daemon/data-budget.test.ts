/**
 * A daemon whose data exceed `algorithm.trainingDataMegabytes` trains on a selection of them
 * (daemon/trainer/selection.ts): the update says so in `update.data_sampled`, its record
 * carries what was read, and it is gated and promoted as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { drop, FAST_UPDATE, SIDE, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

test('an update over the memory budget reads the new data first and a replay of the rest, and says so', async () => {
  const stateDir = tempStateDir('bonsai-budget-');
  const log = new MemoryLog();
  // 8x8 samples are 256 bytes: 0.01 MiB holds 40 of them, so 60 files are over it.
  const budgetMiB = 0.01;
  const perSample = SIDE * SIDE * 4;
  const d = await startDaemon(testConfig(stateDir, { algorithm: { trainingDataMegabytes: budgetMiB }, triggers: { pendingCount: 60, initialCount: 60 } }),
    { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
  try {
    await drop(join(stateDir, 'inbox'), 60, 0);
    await waitFor('one finished update', () => d.updater.records().length >= 1 && !d.scheduler.busy, 45_000);
    const record = d.updater.last()!;
    assert.equal(record.outcome, 'promoted', record.verdict);
    const event = log.events.find((e) => e.event === 'update.data_sampled');
    assert.ok(event, 'update.data_sampled logged');
    assert.equal(event.level, 'info');
    const train = event.fields.train as { kept: number; of: number; bytes: number };
    const stored = d.store.counts().bySplit;
    assert.equal(train.of, stored.train);
    assert.equal(train.kept, Math.floor((budgetMiB * 2 ** 20) / perSample));
    assert.ok(train.bytes <= budgetMiB * 2 ** 20);
    assert.equal(record.sizes?.allData, train.kept);
    assert.deepEqual(record.sizes?.selection?.train, train);
    assert.match(String(event.fields.reason), /trained on 40 of \d+ training samples/);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a budget that holds no sample fails the update with a message that names the budget', async () => {
  const stateDir = tempStateDir('bonsai-budget-');
  // 0.0001 MiB is 104 bytes: no 8x8 sample (256 bytes) fits.
  const d = await startDaemon(testConfig(stateDir, { algorithm: { trainingDataMegabytes: 0.0001 }, triggers: { pendingCount: 60, initialCount: 60 } }),
    { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
  try {
    await drop(join(stateDir, 'inbox'), 60, 0);
    await waitFor('one finished update', () => d.updater.records().length >= 1, 45_000);
    const record = d.updater.last()!;
    assert.equal(record.outcome, 'failed');
    assert.equal(record.error?.code, 'BONSAI_DAEMON_NO_TRAINING_DATA');
    assert.match(record.error?.message ?? '', /algorithm\.trainingDataMegabytes \(104 bytes\) holds none of the \d+ training samples: raise it/);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
