import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { createModel } from '../../core/models/index.ts';
import type { StrategyName, StrategyState } from '../../core/update/strategies.ts';
import { markdownTable, pct, resumeCheckpoint, runArrivals, saveCheckpoint, type Arrival } from '../../experiments/harness.ts';
import { noLeaks } from '../helpers/tensors.ts';

const SPEC = { arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1 };

test('runArrivals updates every listed method at every arrival, in order, each from its own previous state', async () => {
  const calls: string[] = [];
  // Stand-in states: the loop only passes them along.
  const stateOf = (name: string) => ({ name }) as unknown as StrategyState;
  const nameOf = (state: StrategyState | null) => (state as unknown as { name: string } | null)?.name ?? 'none';
  function* arrivals(): Generator<Arrival<string>> {
    yield { index: 0, fraction: 0.5, label: 'a', newData: 'x', allData: 'x', methods: ['tfs', 'ours'] };
    yield { index: 1, fraction: 1, label: 'b', newData: 'y', allData: 'xy', methods: ['ours'] };
  }
  const states = await runArrivals({
    arrivals: arrivals(), states: {},
    beforeUpdate: (method, previous, arrival) => calls.push(`before ${method}@${arrival.label} from ${nameOf(previous)}`),
    update: (method: StrategyName, _previous, arrival) => ({ state: stateOf(`${method}@${arrival.label}`), data: arrival.allData }),
    record: (method, outcome, arrival) => calls.push(`record ${method}@${arrival.label} on ${outcome.data}`),
    afterArrival: async (arrival) => { calls.push(`after ${arrival.label}`); },
  });
  assert.deepEqual(calls, [
    'before tfs@a from none', 'record tfs@a on x', 'before ours@a from none', 'record ours@a on x', 'after a',
    'before ours@b from ours@a', 'record ours@b on xy', 'after b',
  ]);
  assert.deepEqual(Object.fromEntries(Object.entries(states).map(([m, s]) => [m, nameOf(s)])), { tfs: 'tfs@a', ours: 'ours@b' });
});

test('a checkpoint saved after an arrival resumes with the same models and rows; one made with other settings is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-harness-'));
  const checkpointDir = join(dir, 'checkpoint');
  try {
    await noLeaks(async () => {
      const ours = createModel(SPEC);
      ours.kernels[0].setMask(tf.tidy(() => tf.randomUniform(ours.kernels[0].shape, 0, 1, 'float32', 3).less(0.5).toFloat()));
      const dense = createModel(SPEC);
      const model = createModel(SPEC);
      await saveCheckpoint(checkpointDir, { ours: { model: ours }, nft: { model, dense } }, { fingerprint: 'f1', completedRounds: 2, rounds: [{ row: 1 }] });
      assert.ok(!existsSync(`${checkpointDir}.tmp`));
      const resumed = await resumeCheckpoint<{ row: number }>(checkpointDir, 'f1');
      assert.ok(resumed);
      assert.deepEqual(resumed.checkpoint, { fingerprint: 'f1', completedRounds: 2, rounds: [{ row: 1 }] });
      assert.deepEqual(Object.keys(resumed.states).sort(), ['nft', 'ours']);
      assert.equal(resumed.states.ours?.model.liveParams(), ours.liveParams());
      assert.equal(resumed.states.ours?.dense, undefined);
      assert.ok(resumed.states.nft?.dense);
      for (const m of [ours, dense, model, resumed.states.ours?.model, resumed.states.nft?.model, resumed.states.nft?.dense]) m?.dispose();
      await assert.rejects(resumeCheckpoint(checkpointDir, 'f2'), { code: 'BONSAI_BENCH_CHECKPOINT_MISMATCH' });
    });
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'empty', 'other.json'), '{}');
    assert.equal(await resumeCheckpoint(join(dir, 'empty'), 'f1'), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('markdownTable writes the header, the alignment row and one line a row; pct shows two decimals or a dash', () => {
  assert.deepEqual(markdownTable(['data', 'method', 'error %'], 'rlr', [['10 %', 'ours', pct(0.01234)], ['20 %', 'tfs', pct(undefined)]]), [
    '| data | method | error % |',
    '|---:|---|---:|',
    '| 10 % | ours | 1.23 |',
    '| 20 % | tfs | - |',
  ]);
});
