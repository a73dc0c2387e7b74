/**
 * Host-side view of a [batch, time, classes] tensor of CTC outputs, shared by the
 * decoders: validation of the shape and lengths, and per-frame log-softmax in
 * float64 (a no-op on log-probabilities, so decoders accept logits as well).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';

/** One utterance's frames: `logProbs[t * classes + k]` for t < `length`. */
export interface UtteranceFrames {
  readonly logProbs: Float64Array;
  readonly length: number;
  readonly classes: number;
}

/** Reads `outputs` ([batch, time, classes]) into normalised per-utterance frames. */
export function readFrames(outputs: tf.Tensor3D, lengths: readonly number[], blank: number): UtteranceFrames[] {
  if (outputs.rank !== 3) {
    throw new BonsaiError('BONSAI_CORE_DECODE_SHAPE', `decode: outputs must be [batch, time, classes], got shape [${outputs.shape.join(', ')}]`, { shape: outputs.shape });
  }
  const [batch, time, classes] = outputs.shape;
  if (lengths.length !== batch) {
    throw new BonsaiError('BONSAI_CORE_DECODE_SHAPE', `decode: batch of ${batch} outputs but ${lengths.length} lengths`, { batch, lengths: lengths.length });
  }
  if (!Number.isInteger(blank) || blank < 0 || blank >= classes) {
    throw new BonsaiError('BONSAI_CORE_DECODE_BLANK', `decode: blank ${blank} is not a class id in 0..${classes - 1}`, { blank, classes });
  }
  lengths.forEach((length, b) => {
    if (!Number.isInteger(length) || length < 0 || length > time) {
      throw new BonsaiError('BONSAI_CORE_DECODE_LENGTH', `decode: length ${length} of batch item ${b} is not an integer in 0..${time}`, { batchIndex: b, length, time });
    }
  });
  const data = outputs.dataSync();
  return lengths.map((length, b) => {
    const logProbs = new Float64Array(length * classes);
    for (let t = 0; t < length; t++) {
      const row = (b * time + t) * classes;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) {
        const v = data[row + k];
        if (Number.isNaN(v) || v === Infinity) {
          throw new BonsaiError('BONSAI_CORE_DECODE_NON_FINITE', `decode: output [${b}, ${t}, ${k}] is ${v}`, { index: [b, t, k], value: String(v) });
        }
        if (v > max) max = v;
      }
      if (max === -Infinity) {
        throw new BonsaiError('BONSAI_CORE_DECODE_NON_FINITE', `decode: every output of frame [${b}, ${t}] is -Infinity`, { index: [b, t], value: '-Infinity' });
      }
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += Math.exp(data[row + k] - max);
      const logZ = max + Math.log(sum);
      for (let k = 0; k < classes; k++) logProbs[t * classes + k] = data[row + k] - logZ;
    }
    return { logProbs, length, classes };
  });
}

/** log(exp(a) + exp(b)) without overflow; -Infinity is the log of 0. */
export function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** A decoded labelling: class ids without blanks, and the log-probability the decoder gives it. */
export interface CtcHypothesis {
  /** Class ids, blanks removed and repeats merged. */
  ids: number[];
  /**
   * Natural-log probability: of the single best path for greedy decoding, of the
   * labelling (all its paths, as far as the beam kept them) for beam search.
   */
  logProb: number;
}
