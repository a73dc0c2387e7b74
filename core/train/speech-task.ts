/**
 * Speech recognition as a `Task` (paper section 5.3): utterances of MFCC frames with
 * character transcripts, CTC loss (core/losses/ctc.ts), and the word error rate of
 * greedy or prefix-beam-search decoding (core/decode) as the error rate.
 *
 * Batches are padded with zero frames to the longest utterance (rounded up to a
 * multiple of the model's time stride). Training batches come from length buckets:
 * a seeded shuffle is cut into pools of several batches, each pool is sorted by
 * length and cut into batches, and the batches are shuffled, so that little of a
 * batch is padding while every epoch still sees a new order. Each batch tensor
 * carries its utterances' lengths (`setSequenceLengths`) for the model.
 */
import * as tf from '../tf.ts';
import { BonsaiError } from '../errors.ts';
import type { MaskedModel } from '../models/model.ts';
import type { Alphabet } from '../text/alphabet.ts';
import type { Lexicon } from '../decode/lexicon.ts';
import { greedyDecode } from '../decode/greedy.ts';
import { prefixBeamSearch } from '../decode/beam.ts';
import { ctcLoss } from '../losses/ctc.ts';
import { ErrorRateCounter, characters, editCounts, words } from '../metrics/error-rates.ts';
import { permutation, seededRandom } from '../data/dataset.ts';
import { sequenceLengthsOf, setSequenceLengths } from '../sparse/hlstm.ts';
import type { Task, TaskBatch } from './task.ts';

/** Utterances in memory: features, transcripts and their label sequences. */
export interface SpeechDataset {
  readonly n: number;
  /** Values per frame (39 for MFCCs with deltas). */
  readonly width: number;
  /** Per utterance, frames x width values, row-major. */
  readonly features: readonly Float32Array[];
  /** Per utterance, its number of frames. */
  readonly frames: readonly number[];
  /** Per utterance, the reference transcript. */
  readonly transcripts: readonly string[];
  /** Per utterance, the transcript as class ids of the alphabet (no blanks). */
  readonly labels: readonly (readonly number[])[];
}

/** One utterance for `makeSpeechDataset`. */
export interface Utterance {
  /** frames x width values, row-major. */
  features: Float32Array;
  /** Reference transcript, already normalised (`normalizeTranscript`). */
  transcript: string;
}

/** Builds a dataset, encoding each transcript with `alphabet`; throws BONSAI_CORE_SPEECH_DATA on a ragged utterance. */
export function makeSpeechDataset(utterances: readonly Utterance[], width: number, alphabet: Alphabet): SpeechDataset {
  const frames = utterances.map((u, i) => {
    if (u.features.length % width !== 0) {
      throw new BonsaiError('BONSAI_CORE_SPEECH_DATA', `utterance ${i} has ${u.features.length} values, not a multiple of the frame width ${width}`, { index: i, values: u.features.length, width });
    }
    return u.features.length / width;
  });
  return {
    n: utterances.length, width, frames,
    features: utterances.map((u) => u.features),
    transcripts: utterances.map((u) => u.transcript),
    labels: utterances.map((u) => alphabet.encode(u.transcript)),
  };
}

/** The utterances at `indices`, in that order. */
export function subsetSpeech(ds: SpeechDataset, indices: ArrayLike<number>): SpeechDataset {
  const idx = Array.from(indices);
  return {
    n: idx.length, width: ds.width,
    features: idx.map((i) => ds.features[i]), frames: idx.map((i) => ds.frames[i]),
    transcripts: idx.map((i) => ds.transcripts[i]), labels: idx.map((i) => ds.labels[i]),
  };
}

/** The utterances of every part, in order. */
export function concatSpeech(...parts: SpeechDataset[]): SpeechDataset {
  const width = parts[0]?.width ?? 0;
  if (parts.some((p) => p.width !== width)) {
    throw new BonsaiError('BONSAI_CORE_SPEECH_DATA', `cannot concatenate speech datasets of frame widths ${parts.map((p) => p.width).join(', ')}`, { widths: parts.map((p) => p.width) });
  }
  return {
    n: parts.reduce((n, p) => n + p.n, 0), width,
    features: parts.flatMap((p) => p.features), frames: parts.flatMap((p) => p.frames),
    transcripts: parts.flatMap((p) => p.transcripts), labels: parts.flatMap((p) => p.labels),
  };
}

/** What a speech batch's `target` holds. */
export interface SpeechTarget {
  /** Dataset indices of the utterances. */
  indices: number[];
  /** Label sequences. */
  labels: (readonly number[])[];
  /** Input frames of each utterance. */
  frames: number[];
  /** Output frames of each utterance (after the model's time stride). */
  outputLengths: number[];
  /** Frames of the padded batch. */
  paddedFrames: number;
}

export interface SpeechTaskOptions {
  /** The characters the output layer scores (blank at 0). */
  alphabet: Alphabet;
  /** Input frames per output frame: the product of the model's time strides (ds2: 2). */
  timeStride: number;
  /** `greedy` (best path, default) or `beam` (prefix beam search). */
  decoder?: 'greedy' | 'beam';
  /** Beam width of `beam` decoding (default 8). */
  beamWidth?: number;
  /** Words `beam` decoding may output (e.g. the ten digit words); none: any character sequence. */
  lexicon?: Lexicon;
  /** Batches per length-sorted pool of the training order (default 8). */
  poolBatches?: number;
  /** Training-time masking and noise (used when the update's `augment` is on). */
  augment?: SpeechAugmentOptions;
}

/**
 * SpecAugment-style training distortions (Park et al., "SpecAugment", Interspeech
 * 2019), applied to feature frames inside each utterance's length: spans of frames
 * and of feature columns set to zero (the per-utterance mean), and Gaussian noise.
 */
export interface SpeechAugmentOptions {
  /** Spans of frames masked per utterance. */
  timeMasks: number;
  /** Longest masked span of frames, as a fraction of the utterance's length. */
  maxTimeFraction: number;
  /** Spans of feature columns masked per utterance. */
  featureMasks: number;
  /** Widest masked span of feature columns. */
  maxFeatureWidth: number;
  /** Standard deviation of additive Gaussian noise (features are normalised to unit variance). */
  noise: number;
}

/** Applies `SpeechAugmentOptions` to a padded batch [B, T, F] whose lengths are registered; seeded. */
export function augmentSpeech(x: tf.Tensor, options: SpeechAugmentOptions, seed: number): tf.Tensor {
  const [B, T, F] = x.shape;
  const lengths = sequenceLengthsOf(x) ?? new Array<number>(B).fill(T);
  const values = Float32Array.from(x.dataSync());
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  lengths.forEach((length, b) => {
    const row = (t: number) => (b * T + t) * F;
    if (options.noise > 0) for (let t = 0; t < length; t++) for (let f = 0; f < F; f++) values[row(t) + f] += options.noise * gauss();
    for (let m = 0; m < options.timeMasks; m++) {
      const width = Math.floor(random() * (Math.floor(length * options.maxTimeFraction) + 1));
      const start = Math.floor(random() * (length - width + 1));
      for (let t = start; t < start + width; t++) values.fill(0, row(t), row(t) + F);
    }
    for (let m = 0; m < options.featureMasks; m++) {
      const width = Math.floor(random() * (Math.min(options.maxFeatureWidth, F) + 1));
      const start = Math.floor(random() * (F - width + 1));
      for (let t = 0; t < length; t++) values.fill(0, row(t) + start, row(t) + start + width);
    }
  });
  const out = tf.tensor3d(values, [B, T, F]);
  setSequenceLengths(out, lengths);
  return out;
}

/** WER and CER of a model on a dataset, with every hypothesis. */
export interface SpeechEvaluation {
  wer: number;
  cer: number;
  /** Decoded transcripts in dataset order. */
  hypotheses: string[];
}

export interface SpeechTask extends Task<SpeechDataset> {
  readonly options: Readonly<SpeechTaskOptions>;
  /** Decodes every utterance and scores WER and CER. */
  evaluate(model: MaskedModel, data: SpeechDataset, batchSize: number): SpeechEvaluation;
  /** Transcripts of utterances given as frames x `width` features (e.g. a WAV through the audio pipeline). */
  transcribe(model: MaskedModel, features: readonly Float32Array[], width: number, batchSize?: number): string[];
}

/** Output frames of an utterance of `frames` input frames. */
export function outputLength(frames: number, timeStride: number): number {
  return Math.ceil(frames / timeStride);
}

/** A zero-padded batch of the utterances at `indices`. */
export function speechBatch(data: SpeechDataset, indices: readonly number[], timeStride: number): TaskBatch {
  const frames = indices.map((i) => data.frames[i]);
  const padded = Math.max(timeStride, Math.ceil(Math.max(...frames) / timeStride) * timeStride);
  const values = new Float32Array(indices.length * padded * data.width);
  indices.forEach((i, b) => values.set(data.features[i], b * padded * data.width));
  const x = tf.tensor3d(values, [indices.length, padded, data.width]);
  setSequenceLengths(x, frames);
  const target: SpeechTarget = {
    indices: [...indices], labels: indices.map((i) => data.labels[i]), frames,
    outputLengths: frames.map((f) => outputLength(f, timeStride)), paddedFrames: padded,
  };
  return { x, size: indices.length, target, dispose: () => x.dispose() };
}

/** Training order: a seeded shuffle, sorted by length within pools, batches shuffled. */
export function bucketedOrder(frames: readonly number[], batchSize: number, seed: number, poolBatches: number): number[][] {
  const random = seededRandom(seed);
  const order = Array.from(permutation(frames.length, random));
  const pool = batchSize * poolBatches;
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += pool) {
    const chunk = order.slice(start, start + pool).sort((a, b) => frames[a] - frames[b] || a - b);
    for (let s = 0; s < chunk.length; s += batchSize) batches.push(chunk.slice(s, s + batchSize));
  }
  const shuffled = permutation(batches.length, random);
  return Array.from(shuffled, (i) => batches[i]);
}

/** Evaluation order: sorted by length, cut into batches. */
function sortedOrder(frames: readonly number[], batchSize: number): number[][] {
  const order = frames.map((_, i) => i).sort((a, b) => frames[a] - frames[b] || a - b);
  const batches: number[][] = [];
  for (let s = 0; s < order.length; s += batchSize) batches.push(order.slice(s, s + batchSize));
  return batches;
}

export function speechTask(options: SpeechTaskOptions): SpeechTask {
  const { alphabet, timeStride } = options;
  if (!Number.isInteger(timeStride) || timeStride < 1) {
    throw new BonsaiError('BONSAI_CORE_SPEECH_OPTION', `speech task: timeStride must be a positive integer, got ${timeStride}`, { timeStride });
  }
  const decoder = options.decoder ?? 'greedy';
  const beamWidth = options.beamWidth ?? 8;
  const poolBatches = options.poolBatches ?? 8;

  const decode = (logits: tf.Tensor3D, lengths: number[]): string[] => {
    const hyps = decoder === 'beam'
      ? prefixBeamSearch(logits, lengths, { beamWidth, blank: alphabet.blank, lexicon: options.lexicon })
      : greedyDecode(logits, lengths, { blank: alphabet.blank });
    return hyps.map((h) => alphabet.decode(h.ids));
  };

  const decodeAll = (model: MaskedModel, data: SpeechDataset, batchSize: number): string[] => {
    const hypotheses = new Array<string>(data.n).fill('');
    for (const indices of sortedOrder(data.frames, batchSize)) {
      const batch = speechBatch(data, indices, timeStride);
      const target = batch.target as SpeechTarget;
      const logits = model.forward(batch.x, { training: false }) as tf.Tensor3D;
      try {
        checkOutput(logits, target, timeStride);
        decode(logits, target.outputLengths).forEach((h, b) => { hypotheses[indices[b]] = h; });
      } finally {
        logits.dispose();
        batch.dispose();
      }
    }
    return hypotheses;
  };

  const evaluate = (model: MaskedModel, data: SpeechDataset, batchSize: number): SpeechEvaluation => {
    const hypotheses = decodeAll(model, data, batchSize);
    const wer = new ErrorRateCounter(words);
    const cer = new ErrorRateCounter(characters);
    data.transcripts.forEach((ref, i) => { wer.add(ref, hypotheses[i]); cer.add(ref, hypotheses[i]); });
    return data.n === 0 ? { wer: 0, cer: 0, hypotheses } : { wer: wer.result().rate, cer: cer.result().rate, hypotheses };
  };

  return {
    options: Object.freeze({ ...options }),
    trainBatches: function* (data, batchSize, seed) {
      for (const indices of bucketedOrder(data.frames, batchSize, seed, poolBatches)) yield speechBatch(data, indices, timeStride);
    },
    evalBatches: function* (data, batchSize) {
      for (const indices of sortedOrder(data.frames, batchSize)) yield speechBatch(data, indices, timeStride);
    },
    loss(output, batch) {
      const target = batch.target as SpeechTarget;
      checkOutput(output, target, timeStride);
      return ctcLoss(output as tf.Tensor3D, target.labels, target.outputLengths, { blank: alphabet.blank, reduction: 'mean' });
    },
    errorRate(model, data, batchSize) {
      return evaluate(model, data, batchSize).wer;
    },
    sampleErrors(model, data, batchSize) {
      const hypotheses = decodeAll(model, data, batchSize);
      const errors = new Float32Array(data.n);
      let units = 0;
      let edits = 0;
      data.transcripts.forEach((ref, i) => {
        const r = words(ref);
        const c = editCounts(r, words(hypotheses[i]));
        errors[i] = c.substitutions + c.deletions + c.insertions;
        edits += errors[i];
        units += r.length;
      });
      return { errors, units, rate: units > 0 ? edits / units : 0 };
    },
    evaluate,
    transcribe(model, features, width, batchSize = 32) {
      return decodeAll(model, makeSpeechDataset(features.map((f) => ({ features: f, transcript: '' })), width, alphabet), batchSize);
    },
    augment: options.augment ? (x, seed) => augmentSpeech(x, options.augment as SpeechAugmentOptions, seed) : undefined,
  };
}

function checkOutput(output: tf.Tensor, target: SpeechTarget, timeStride: number): void {
  const expected = target.paddedFrames / timeStride;
  if (output.rank !== 3 || output.shape[0] !== target.frames.length || output.shape[1] !== expected) {
    throw new BonsaiError(
      'BONSAI_CORE_SPEECH_OUTPUT_SHAPE',
      `speech task: model output of shape [${output.shape.join(', ')}] for ${target.frames.length} utterances of ${target.paddedFrames} padded frames; expected [${target.frames.length}, ${expected}, classes] with time stride ${timeStride}`,
      { shape: output.shape, batch: target.frames.length, paddedFrames: target.paddedFrames, timeStride },
    );
  }
}
