/**
 * A champion whose weights were altered on disk (8 bytes flipped): the daemon
 * serves the newest intact earlier champion instead of nothing, logs it and
 * counts it, and an update trains on and gates against that intact version,
 * never the corrupt one (the trainer child checks the checksums too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { trainCandidate, type TrainJob } from '../../daemon/trainer/index.ts';
import { updateConfig } from '../../daemon/wiring.ts';
import { counterValue } from './server-fakes.ts';
import { FAST_UPDATE, SIDE, TINY_MODEL, tempStateDir, testConfig } from './e2e-helpers.ts';
import { championsOf, corruptWeights, recordingTrainer } from './champion-fallback-helpers.ts';

test('a corrupt champion is neither served nor trained on: the newest intact champion is, with a log line and a metric', async () => {
  const stateDir = tempStateDir('bonsai-corrupt-');
  try {
    await championsOf(stateDir, 3);
    corruptWeights(stateDir, 3);
    const log = new MemoryLog();
    const jobs: TrainJob[] = [];
    const daemon = await startDaemon(testConfig(stateDir), { log, model: TINY_MODEL, update: FAST_UPDATE, startTrainer: recordingTrainer(jobs), defaultMetrics: false });
    try {
      assert.equal(daemon.holder.version, 2, 'the last intact champion is served');
      assert.deepEqual(log.named('serving.champion_fallback').map((f) => [f.champion, f.version]), [[3, 2]]);
      assert.equal(log.events.find((e) => e.event === 'serving.champion_fallback')?.level, 'error');
      assert.equal(await counterValue(daemon.metrics.championFallbacks, { use: 'serving' }), 1);

      await daemon.updater.run({ id: 'u-corrupt', trigger: 'manual', reason: 'test' });
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0].champion, 2, 'the update grows from and gates against the intact version');
      assert.deepEqual(log.named('update.champion_fallback').map((f) => [f.champion, f.version]), [[3, 2]]);
      assert.equal(await counterValue(daemon.metrics.championFallbacks, { use: 'parent' }), 1);
    } finally {
      await daemon.stop('test');
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('the trainer refuses a parent whose checksums fail', async () => {
  const stateDir = tempStateDir('bonsai-corrupt-child-');
  try {
    await championsOf(stateDir, 1);
    corruptWeights(stateDir, 1);
    const job: TrainJob = {
      id: 'u-corrupt-child', trigger: 'manual', stateDir, upToSeq: 0, champion: 1,
      model: { arch: 'mlp', inputShape: [SIDE, SIDE, 1], options: { hidden: '8' } }, modality: 'image',
      update: updateConfig(testConfig(stateDir), FAST_UPDATE), backend: { name: 'cpu', threads: null }, driftBins: 5,
    };
    await assert.rejects(trainCandidate(job), (e: { code?: string; message?: string }) => e.code === 'BONSAI_DAEMON_MODEL_CORRUPT' && /weights\.bin/.test(e.message ?? ''));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
