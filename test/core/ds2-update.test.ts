import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '../../core/tf.ts';
import { DS2_TIME_STRIDE, registerDs2 } from '../../core/models/ds2.ts';
import { concatSpeech, makeSpeechDataset, speechTask, type SpeechDataset } from '../../core/train/speech-task.ts';
import { runUpdate } from '../../core/update/strategies.ts';
import { paperUpdateConfig, type UpdateConfig } from '../../core/update/config.ts';
import { ENGLISH_ALPHABET } from '../../core/text/alphabet.ts';
import { defaultAudioSpec, fsddDir, loadFsdd, processAudioSync, type FsddRecording } from '../../pipelines/audio/index.ts';
import { noLeaks } from '../helpers/tensors.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dir = fsddDir(repoRoot);
const skip = existsSync(dir) ? false : `FSDD recordings not found at ${dir} (set BONSAI_FSDD_DIR)`;
const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const limits = { maxFileBytes: 16 * 1024 * 1024, maxPixels: 1, maxAudioSeconds: 60, decodeTimeoutMs: 0 };

function load(recordings: FsddRecording[]): SpeechDataset {
  return makeSpeechDataset(recordings.map((r) => ({
    features: processAudioSync(new Uint8Array(readFileSync(r.path)), defaultAudioSpec, limits).features,
    transcript: WORDS[r.digit],
  })), 39, ENGLISH_ALPHABET);
}

const config: UpdateConfig = {
  ...paperUpdateConfig, newDataEpochs: 2, allDataEpochs: 2, trainEpochs: 2, growthInterval: 1, initialDensity: 0.5,
  maxPruneIterations: 2, pruneFraction: 0.05, retrainEpochs: 1, batchSize: 4, augment: false,
  optimizer: { kind: 'adam', learningRate: 0.003 }, pruneLearningRate: 0.001,
};

test('one grow-and-prune update of a tiny ds2 on a handful of FSDD recordings', { skip }, async () => {
  registerDs2();
  const recordings = loadFsdd(dir, { split: 'train', speakers: ['jackson'], digits: [1, 2, 6] }).filter((r) => r.take < 9);
  const first = load(recordings.filter((r) => r.take < 7));
  const fresh = load(recordings.filter((r) => r.take === 7));
  const validation = load(recordings.filter((r) => r.take === 8));
  const all = concatSpeech(first, fresh);
  const spec = { arch: 'ds2', inputShape: [40, 39], numClasses: ENGLISH_ALPHABET.size, options: { filters: '2,2,2', hidden: 4, gateHidden: 4, kernelTime: 3, kernelFreq: 3 } };
  const task = speechTask({ alphabet: ENGLISH_ALPHABET, timeStride: DS2_TIME_STRIDE });
  await noLeaks(() => {
    const r1 = runUpdate({ strategy: 'ours', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: ENGLISH_ALPHABET.size }, config });
    assert.ok(r1.state.model.density() < 1);
    const r2 = runUpdate({ strategy: 'ours', previous: r1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: ENGLISH_ALPHABET.size }, config });
    const model = r2.state.model;
    assert.equal(model, r1.state.model, 'the update grows and prunes the served model in place');

    // Growth reached the H-LSTM gates, the convolutions and the FC layer.
    const grown = (name: string) => r2.growth.reduce((n, g) => n + (g.grown[name] ?? 0), 0);
    assert.ok(grown('rnn1f/g1/kernel') + grown('rnn2b/o2/kernel') > 0, 'no connection of the gate MLPs was grown');
    assert.ok(grown('conv2/kernel') + grown('fc/kernel') > 0);
    assert.ok(r2.prune.liveParams <= model.denseParams() && model.density() < 1);

    // New data first: E1 = 2 epochs on the 3 new recordings with a growth evaluation before each; then E2 on all 9.
    assert.equal(r2.cost.phases['growth-new'].sampleEpochs, 4 * fresh.n);
    assert.equal(r2.cost.phases['growth-all'].sampleEpochs, 4 * all.n);
    assert.ok(r2.prune.iterations.length >= 1);
    assert.ok(r2.validationError <= r2.prePruneError, 'recoverable pruning lost accuracy');

    for (const k of model.kernels) {
      const [values, mask] = [k.value.dataSync(), k.mask.dataSync()];
      mask.forEach((m, i) => { if (m === 0) assert.ok(values[i] === 0, `${k.name}[${i}] is masked but ${values[i]}`); });
      // Recoverable pruning: every receiving unit keeps an input.
      const inputs = tf.tidy(() => k.mask.sum(k.shape.map((_, a) => a).filter((a) => a !== k.outAxis)).min().dataSync()[0]);
      assert.ok(inputs >= 1, `${k.name}: a unit lost all its inputs`);
    }
    const x = tf.randomNormal([2, 30, 39]);
    const y = model.forward(x, { training: false });
    assert.deepEqual(y.shape, [2, 15, ENGLISH_ALPHABET.size]);
    tf.dispose([x, y]);
    model.dispose();
  });
});
