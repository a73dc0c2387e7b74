/**
 * The trainer with a speech model (ds2): variable-length MFCC utterances read
 * from the store with transcripts (stored, or the class label read as words),
 * CTC training, a published candidate with its vocabulary, and the loader
 * serving it as transcripts. Synthetic features: no recordings needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../core/backend.ts';
import { BonsaiError } from '../../core/errors.ts';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { registryLoader } from '../../daemon/serving/loader.ts';
import { trainCandidate, type TrainJob } from '../../daemon/trainer/index.ts';
import { readSpeechUpdateData } from '../../daemon/trainer/speech-data.ts';
import { updateConfig } from '../../daemon/daemon.ts';
import { noLeaks } from '../helpers/tensors.ts';
import { rng, tempStateDir, testConfig } from './e2e-helpers.ts';

const WIDTH = 39;
const id = (s: string): string => createHash('sha256').update(s).digest('hex');

/** `frames` x 39 seeded values; words differ in the sign of their first coefficient so there is something to learn. */
function utterance(seed: number, frames: number, word: string): Float32Array {
  const r = rng(seed);
  const sign = word === 'yes' ? 1 : -1;
  return Float32Array.from({ length: frames * WIDTH }, (_, i) => (i % WIDTH === 0 ? sign : 0) + (r() - 0.5));
}

/** Stores `n` utterances labelled by folder (`yes/`, `no/`), 16-30 frames long, seeds from `first`. */
function fill(store: SampleStore, first: number, n: number): void {
  for (let seed = first; seed < first + n; seed++) {
    const word = seed % 2 === 0 ? 'yes' : 'no';
    const frames = 16 + (seed % 15);
    store.addSample(id(`u${seed}`), { modality: 'audio', features: utterance(seed, frames, word), shape: [frames, WIDTH] }, { label: word }, `${word}/u${seed}.wav`);
  }
}

function job(stateDir: string, upToSeq: number, champion: number | null): TrainJob {
  return {
    id: `u-speech-${upToSeq}`, trigger: 'manual', stateDir, upToSeq, champion,
    model: { arch: 'ds2', inputShape: [WIDTH], options: { filters: '2,2,2', hidden: 4, gateHidden: 4, rnnLayers: 1, kernelTime: 3, kernelFreq: 3 } }, modality: 'audio',
    update: updateConfig(testConfig(stateDir, { algorithm: { newDataEpochs: 1, allDataEpochs: 1, growthInterval: 1, batchSize: 8 } }), { maxPruneIterations: 1, initialDensity: 0.5, retrainEpochs: 0.5, optimizer: { kind: 'adam', learningRate: 0.01 } }),
    backend: { name: 'cpu', threads: null }, driftBins: 5,
  };
}

test('speech data: transcripts from the store or the label, variable lengths, unusable samples skipped by reason', () => {
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    fill(store, 0, 24);
    store.addSample(id('sidecar'), { modality: 'audio', features: utterance(99, 20, 'no'), shape: [20, WIDTH] }, { transcript: 'no yes' }, 'x.wav');
    store.addSample(id('digit'), { modality: 'audio', features: utterance(98, 20, 'no'), shape: [20, WIDTH] }, { label: '7' }, '7/x.wav');
    store.addSample(id('image'), { modality: 'image', features: new Float32Array(64), shape: [8, 8, 1] }, { label: 'yes' }, 'yes/x.png');
    store.addSample(id('short'), { modality: 'audio', features: utterance(97, 6, 'no'), shape: [6, WIDTH] }, { transcript: 'abcdefgh' }, 'y.wav');
    store.markTrained({ upToSeq: 10 }, 1);
    const data = readSpeechUpdateData(store, store.lastSeq(), WIDTH, 2);
    assert.deepEqual(data.skips, { shape: 1, label: 1, tooShort: 1 });
    assert.equal(data.skipped, 3);
    assert.equal(data.allData.n + data.validation.n + data.test.n, 25);
    assert.ok(data.newData.n < data.allData.n && data.newData.n > 0);
    assert.equal(data.allData.width, WIDTH);
    assert.ok(new Set(data.allData.frames).size > 1, 'utterances keep their own lengths');
    for (const t of [...data.allData.transcripts, ...data.validation.transcripts, ...data.test.transcripts]) assert.ok(['yes', 'no', 'no yes'].includes(t), t);
    assert.deepEqual(data.vocabulary, ['no', 'yes']);
    // Features are the stored ones, frame for frame.
    const i = data.allData.transcripts.indexOf('yes');
    assert.equal(data.allData.features[i].length, data.allData.frames[i] * WIDTH);
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a ds2 candidate is trained with CTC on variable-length utterances, published with its vocabulary, and served as transcripts', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    fill(store, 0, 24);
    const phases: string[] = [];
    const first = await noLeaks(() => trainCandidate(job(stateDir, store.lastSeq(), null), { onProgress: (p) => { if (p.kind === 'phase') phases.push(p.phase); } }));
    assert.deepEqual(phases, ['load', 'growth-all', 'prune', 'evaluate', 'publish']);
    assert.equal(first.version, 1);
    assert.equal(first.parent, null);
    assert.ok(first.candidateError >= 0 && first.candidateError <= 2, `WER ${first.candidateError}`);
    assert.equal(first.sizes.skipped, 0);
    assert.equal(first.labels.length, 29);
    assert.ok(first.density < 1);

    const registry = await openRegistry(join(stateDir, 'models'));
    const v1 = await registry.get(1);
    const extra = v1.manifest.extra as Record<string, unknown>;
    assert.equal(extra.arch, 'ds2');
    assert.equal(extra.task, 'speech');
    assert.equal(extra.modality, 'audio');
    assert.deepEqual(extra.vocabulary, ['no', 'yes']);
    assert.equal((extra.inputShape as number[])[1], WIDTH, 'the spec is [mean frames, width]');
    assert.equal(extra.driftReference, undefined);

    await noLeaks(async () => {
      const served = await registryLoader(registry, 'audio')(1);
      try {
        assert.deepEqual(served.inputShape, [WIDTH]);
        assert.equal(served.modality, 'audio');
        assert.equal(served.labels[0], '<blank>');
        await served.warmUp();
        const transcripts = await served.transcribe!([utterance(500, 17, 'yes'), utterance(501, 30, 'no')]);
        assert.equal(transcripts.length, 2);
        for (const t of transcripts) for (const w of t.split(' ').filter(Boolean)) assert.ok(['no', 'yes'].includes(w), `"${t}" is not made of the vocabulary`);
        await assert.rejects(served.predict(new Float32Array(WIDTH), 1), (err: unknown) => err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_SPEECH_MODEL');
        await assert.rejects(served.transcribe!([new Float32Array(WIDTH + 1)]), (err: unknown) => err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_SPEECH_INPUT');
      } finally {
        served.dispose();
      }
    });

    // The next update grows the champion on the new recordings; the spec (and its width) is the champion's.
    store.markTrained({ upToSeq: store.lastSeq() }, 1);
    fill(store, 100, 8);
    const second = await noLeaks(() => trainCandidate(job(stateDir, store.lastSeq(), 1)));
    assert.equal(second.version, 2);
    assert.equal(second.parent, 1);
    assert.equal(typeof second.championError, 'number');
    assert.ok(second.sizes.newData > 0 && second.sizes.newData < second.sizes.allData);
    assert.deepEqual((await registry.get(2)).manifest.extra?.inputShape, extra.inputShape);
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a speech update without usable recordings fails with a coded error that counts the reasons', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    for (let i = 0; i < 6; i++) store.addSample(id(`d${i}`), { modality: 'audio', features: utterance(i, 20, 'no'), shape: [20, WIDTH] }, { label: String(i) }, `${i}/x.wav`);
    await assert.rejects(trainCandidate(job(stateDir, store.lastSeq(), null)), (err: unknown) => {
      assert.ok(err instanceof BonsaiError);
      assert.equal(err.code, 'BONSAI_DAEMON_NO_TRAINING_DATA');
      assert.match(err.message, /6 skipped: 0 of another shape, 6 whose label is not words/);
      assert.deepEqual(err.details.skips, { shape: 0, label: 6, tooShort: 0 });
      return true;
    });
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
