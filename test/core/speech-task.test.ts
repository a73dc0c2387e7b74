import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { augmentSpeech, bucketedOrder, concatSpeech, makeSpeechDataset, speechBatch, speechTask, subsetSpeech, type SpeechTarget } from '../../core/train/speech-task.ts';
import { sequenceLengthsOf } from '../../core/sparse/sequence-lengths.ts';
import { ENGLISH_ALPHABET } from '../../core/text/alphabet.ts';
import { createLexicon } from '../../core/decode/lexicon.ts';
import { ctcLoss } from '../../core/losses/ctc.ts';
import { MaskedModel } from '../../core/models/model.ts';
import { MaskedDense } from '../../core/sparse/masked-dense.ts';
import type { ForwardContext, Layer } from '../../core/sparse/layer.ts';
import { noLeaks } from '../helpers/tensors.ts';

const A = ENGLISH_ALPHABET;
const WORDS = ['one', 'two', 'six', 'zero'];

/** Utterance i: `frames` frames of width 2, every value i + 1 (so the fake model can tell which word it is). */
function dataset(frameCounts: number[], words: string[]) {
  return makeSpeechDataset(frameCounts.map((f, i) => ({ features: new Float32Array(f * 2).fill(WORDS.indexOf(words[i]) + 1), transcript: words[i] })), 2, A);
}

/**
 * A model that "recognises" the word coded in its input: for an utterance whose
 * frames hold k, it emits the characters of WORDS[k - 1] (or `override`) with
 * blanks between, one per output frame (time stride 2).
 */
class Oracle extends MaskedModel {
  readonly layers: Layer[] = [];
  private readonly dense = new MaskedDense({ name: 'fc', inUnits: 1, units: A.size });
  constructor(private readonly override: Map<string, string> = new Map()) {
    super({ arch: 'oracle', inputShape: [4, 2], numClasses: A.size });
  }
  get head(): MaskedDense { return this.dense; }
  kernelMacs(): Record<string, number> { return {}; }
  forward(x: tf.Tensor, _ctx: ForwardContext): tf.Tensor {
    const [B, T] = x.shape;
    const out = T / 2;
    const values = x.dataSync();
    const logits = new Float32Array(B * out * A.size).fill(-5);
    for (let b = 0; b < B; b++) {
      const word = WORDS[values[b * T * 2] - 1];
      const ids = A.encode(this.override.get(word) ?? word);
      for (let t = 0; t < out; t++) {
        const id = t % 2 === 1 && (t >> 1) < ids.length ? ids[t >> 1] : A.blank;
        logits[(b * out + t) * A.size + id] = 5;
      }
    }
    return tf.tensor3d(logits, [B, out, A.size]);
  }
  override dispose(): void { this.dense.dispose(); }
}

test('a speech batch is zero-padded to a multiple of the time stride and carries its lengths', async () => {
  await noLeaks(() => {
    const data = dataset([5, 9, 3], ['one', 'two', 'six']);
    const batch = speechBatch(data, [2, 1], 4);
    assert.deepEqual(batch.x.shape, [2, 12, 2]);
    assert.deepEqual(sequenceLengthsOf(batch.x), [3, 9]);
    const t = batch.target as SpeechTarget;
    assert.deepEqual(t.frames, [3, 9]);
    assert.deepEqual(t.outputLengths, [1, 3]);
    assert.deepEqual(t.labels, [A.encode('six'), A.encode('two')]);
    const v = batch.x.dataSync();
    assert.equal(v[3 * 2], 0, 'frame 3 of the first utterance is padding');
    assert.equal(v[3 * 2 - 1], 3, 'frame 2 of the first utterance holds data');
    assert.equal(v[(12 + 8) * 2], 2);
    batch.dispose();
  });
});

test('training batches cover every utterance once, are seeded, and group similar lengths', () => {
  const frames = Array.from({ length: 100 }, (_, i) => 10 + ((i * 37) % 90));
  const a = bucketedOrder(frames, 8, 5, 4);
  const b = bucketedOrder(frames, 8, 5, 4);
  const c = bucketedOrder(frames, 8, 6, 4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.deepEqual(a.flat().sort((x, y) => x - y), frames.map((_, i) => i));
  assert.ok(a.every((batch) => batch.length <= 8));
  // Padding: within pools of 32 sorted by length, less than with pools of one batch (a plain shuffle).
  const padding = (batches: number[][]) => batches.reduce((s, batch) => s + batch.reduce((p, i) => p + Math.max(...batch.map((j) => frames[j])) - frames[i], 0), 0);
  assert.ok(padding(a) < padding(bucketedOrder(frames, 8, 5, 1)), `pooled ${padding(a)} vs unpooled ${padding(bucketedOrder(frames, 8, 5, 1))}`);
});

test('the task loss is the CTC loss of the output over each utterance\'s output frames', async () => {
  await noLeaks(() => {
    const data = dataset([6, 10], ['two', 'zero']);
    const task = speechTask({ alphabet: A, timeStride: 2 });
    const [batch] = [...task.evalBatches(data, 8)];
    const logits = tf.randomNormal([2, 5, A.size], 0, 1, 'float32', 1);
    const got = task.loss(logits, batch);
    const want = ctcLoss(logits as tf.Tensor3D, [A.encode('two'), A.encode('zero')], [3, 5]);
    assert.ok(Math.abs(got.dataSync()[0] - want.dataSync()[0]) < 1e-6);
    const wrong = tf.zeros([2, 4, A.size]);
    assert.throws(() => task.loss(wrong, batch), { code: 'BONSAI_CORE_SPEECH_OUTPUT_SHAPE' });
    tf.dispose([logits, got, want, wrong]);
    batch.dispose();
  });
});

test('the error rate is the corpus WER of the decoded transcripts; CER and beam search with a lexicon too', async () => {
  await noLeaks(() => {
    const words = ['one', 'two', 'six', 'zero', 'one', 'six'];
    const data = dataset([12, 14, 14, 16, 12, 12], words);
    const perfect = new Oracle();
    const greedy = speechTask({ alphabet: A, timeStride: 2 });
    assert.equal(greedy.errorRate(perfect, data, 4), 0);
    // "six" heard as "sax": 2 of 6 words wrong, 2 of 20 characters.
    const flawed = new Oracle(new Map([['six', 'sax']]));
    const e = greedy.evaluate(flawed, data, 4);
    assert.equal(e.wer, 2 / 6);
    assert.equal(e.cer, 2 / words.join('').length);
    assert.deepEqual(e.hypotheses, ['one', 'two', 'sax', 'zero', 'one', 'sax']);
    // Beam search restricted to known words cannot output "sax".
    const beam = speechTask({ alphabet: A, timeStride: 2, decoder: 'beam', beamWidth: 4, lexicon: createLexicon(['one', 'two', 'zero', 'six'], A) });
    const b = beam.evaluate(flawed, data, 4);
    assert.ok(b.hypotheses.every((h) => h === '' || ['one', 'two', 'zero', 'six'].includes(h)), b.hypotheses.join(','));
    assert.equal(b.hypotheses[0], 'one');
    // Transcribing bare features (no references) gives the same hypotheses.
    assert.deepEqual(greedy.transcribe(flawed, data.features, data.width, 4), e.hypotheses);
    perfect.dispose();
    flawed.dispose();
  });
});

test('subsets and concatenations keep utterances, labels and frames aligned', () => {
  const data = dataset([4, 6, 8], ['one', 'two', 'six']);
  const sub = subsetSpeech(data, [2, 0]);
  assert.deepEqual(sub.transcripts, ['six', 'one']);
  assert.deepEqual(sub.frames, [8, 4]);
  const both = concatSpeech(data, sub);
  assert.equal(both.n, 5);
  assert.deepEqual(both.labels[3], A.encode('six'));
  assert.throws(() => makeSpeechDataset([{ features: new Float32Array(5), transcript: 'one' }], 2, A), { code: 'BONSAI_CORE_SPEECH_DATA' });
  assert.throws(() => speechTask({ alphabet: A, timeStride: 0 }), { code: 'BONSAI_CORE_SPEECH_OPTION' });
});

test('augmentation masks spans and adds noise inside each utterance only, seeded, keeping the lengths', async () => {
  await noLeaks(() => {
    const data = makeSpeechDataset([4, 10].map((f) => ({ features: new Float32Array(f * 6).fill(1), transcript: 'one' })), 6, A);
    const batch = speechBatch(data, [0, 1], 2);
    const options = { timeMasks: 1, maxTimeFraction: 0.5, featureMasks: 1, maxFeatureWidth: 3, noise: 0 };
    const a = augmentSpeech(batch.x, options, 7);
    const b = augmentSpeech(batch.x, options, 7);
    assert.deepEqual(sequenceLengthsOf(a), [4, 10]);
    const v = a.dataSync();
    assert.deepEqual(Array.from(v), Array.from(b.dataSync()), 'same seed, same distortion');
    // Padding (frames 4..9 of the first utterance) stays zero; inside, values are 1 or masked to 0.
    for (let t = 4; t < 10; t++) for (let f = 0; f < 6; f++) assert.equal(v[t * 6 + f], 0);
    assert.ok(v.every((x) => x === 0 || x === 1));
    const zerosInside = Array.from(v.slice(60, 120)).filter((x) => x === 0).length;
    assert.ok(zerosInside > 0 && zerosInside < 60, `${zerosInside} masked values in the second utterance`);
    const noisy = augmentSpeech(batch.x, { ...options, timeMasks: 0, featureMasks: 0, noise: 0.5 }, 1);
    const n = noisy.dataSync();
    assert.ok(n.slice(0, 24).every((x) => x !== 1) && n.slice(24, 60).every((x) => x === 0), 'noise inside the length only');
    tf.dispose([a, b, noisy]);
    batch.dispose();
  });
});
