/**
 * Connectionist temporal classification loss, the output layer of DeepSpeech2 in
 * paper section 5.3 (Graves et al., "Connectionist Temporal Classification",
 * ICML 2006, sections 3-4).
 *
 * The forward pass runs the log-space alpha recursion over the extended label
 * (blanks interleaved) on the host in float64: sequences are short, and float64
 * keeps long products of probabilities exact enough. The backward pass runs the
 * beta recursion and returns the closed-form gradient with respect to the
 * un-normalised logits (Graves 2006, eq. 16):
 *
 *   d loss / d u[t, k] = y[t, k] - (1 / p) * sum over s with l'[s] = k of alpha[t, s] * beta[t, s]
 *
 * where y = softmax(u), alpha[t, s] includes the emission at t and beta[t, s]
 * covers only frames after t.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';

/** How per-sequence losses are combined. */
export type CtcReduction = 'mean' | 'sum' | 'none';

/** Options of `ctcLoss`. */
export interface CtcLossOptions {
  /** Class id of the CTC blank. Default 0. */
  blank?: number;
  /**
   * `'mean'` (default, as PyTorch's `CTCLoss`): each sequence's loss divided by its
   * label length (an empty label counts as length 1), then averaged over the batch,
   * so long utterances do not dominate. `'sum'`: summed over the batch. `'none'`:
   * the per-sequence negative log-likelihoods, shape [batch].
   */
  reduction?: CtcReduction;
}

/**
 * The minimum number of frames a label needs: one per label, plus one blank
 * between each pair of equal neighbours (CTC merges repeats that no blank
 * separates).
 */
export function ctcMinInputLength(label: readonly number[]): number {
  let repeats = 0;
  for (let i = 1; i < label.length; i++) if (label[i] === label[i - 1]) repeats++;
  return label.length + repeats;
}

/**
 * CTC negative log-likelihood of `labels` given `logits`.
 *
 * @param logits [batch, time, classes], un-normalised (log-softmax is applied inside).
 * @param labels one label sequence per batch item, class ids without blanks; may be empty.
 * @param inputLengths frames used per batch item (0..time); later frames are ignored and get zero gradient.
 * @returns a scalar (`'mean'`, `'sum'`) or [batch] (`'none'`); differentiable with respect to `logits`.
 */
export function ctcLoss(logits: tf.Tensor3D, labels: readonly (readonly number[])[], inputLengths: readonly number[], options: CtcLossOptions & { reduction: 'none' }): tf.Tensor1D;
export function ctcLoss(logits: tf.Tensor3D, labels: readonly (readonly number[])[], inputLengths: readonly number[], options?: CtcLossOptions & { reduction?: 'mean' | 'sum' }): tf.Scalar;
export function ctcLoss(logits: tf.Tensor3D, labels: readonly (readonly number[])[], inputLengths: readonly number[], options?: CtcLossOptions): tf.Scalar | tf.Tensor1D;
export function ctcLoss(logits: tf.Tensor3D, labels: readonly (readonly number[])[], inputLengths: readonly number[], options: CtcLossOptions = {}): tf.Scalar | tf.Tensor1D {
  const blank = options.blank ?? 0;
  const reduction = options.reduction ?? 'mean';
  validate(logits, labels, inputLengths, blank, reduction);
  const [batch, time, classes] = logits.shape;

  // Weight of each sequence's loss in the result: the reduction is folded into
  // the custom gradient, so the loss needs no other registered gradient.
  const weights = labels.map((l) => (reduction === 'mean' ? 1 / (batch * Math.max(l.length, 1)) : 1));

  const loss = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x = inputs[0] as tf.Tensor3D;
    const logProbs = logSoftmaxRows(x.dataSync() as Float32Array, batch, time, classes, inputLengths);
    const sequences = labels.map((label, b) => {
      const ext = extendLabel(label, blank);
      const frames = inputLengths[b];
      const offset = b * time * classes;
      const alpha = forwardAlpha(logProbs, offset, classes, frames, ext);
      const S = ext.length;
      const logP = frames === 0 ? 0 : logAdd(alpha[(frames - 1) * S + S - 1], S > 1 ? alpha[(frames - 1) * S + S - 2] : -Infinity);
      if (logP === -Infinity) {
        throw new BonsaiError(
          'BONSAI_CORE_CTC_ZERO_PROBABILITY',
          `CTC: label ${JSON.stringify(label)} of batch item ${b} has probability 0 under its logits over ${frames} frames (logits of -Infinity forbid every alignment)`,
          { batchIndex: b, label: [...label], inputLength: frames },
        );
      }
      return { ext, frames, offset, alpha, logP };
    });
    const value: tf.Tensor = reduction === 'none'
      ? tf.tensor1d(sequences.map((s) => 0 - s.logP), 'float32')
      : tf.scalar(sequences.reduce((acc, s, b) => acc - weights[b] * s.logP, 0) + 0, 'float32');

    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const upstream = dy.dataSync();
      const grad = new Float32Array(batch * time * classes);
      const occupancy = new Float64Array(classes);
      for (let b = 0; b < batch; b++) {
        const { ext, frames, offset, alpha, logP } = sequences[b];
        const scale = (reduction === 'none' ? upstream[b] : upstream[0]) * weights[b];
        if (scale === 0) continue;
        const beta = backwardBeta(logProbs, offset, classes, frames, ext);
        const S = ext.length;
        for (let t = 0; t < frames; t++) {
          occupancy.fill(0);
          for (let s = 0; s < S; s++) {
            const a = alpha[t * S + s];
            const c = beta[t * S + s];
            if (a !== -Infinity && c !== -Infinity) occupancy[ext[s]] += Math.exp(a + c - logP);
          }
          const row = offset + t * classes;
          for (let k = 0; k < classes; k++) grad[row + k] = scale * (Math.exp(logProbs[row + k]) - occupancy[k]);
        }
      }
      return tf.tensor3d(grad, [batch, time, classes], 'float32');
    };
    return { value, gradFunc };
  })(logits);
  return reduction === 'none' ? (loss as tf.Tensor1D) : (loss as tf.Scalar);
}

function validate(logits: tf.Tensor, labels: readonly (readonly number[])[], inputLengths: readonly number[], blank: number, reduction: string): void {
  if (logits.rank !== 3) {
    throw new BonsaiError('BONSAI_CORE_CTC_SHAPE', `CTC: logits must be [batch, time, classes], got shape [${logits.shape.join(', ')}]`, { shape: logits.shape });
  }
  const [batch, time, classes] = logits.shape;
  if (batch === 0 || labels.length !== batch || inputLengths.length !== batch) {
    throw new BonsaiError(
      'BONSAI_CORE_CTC_SHAPE',
      `CTC: batch of ${batch} logits with ${labels.length} labels and ${inputLengths.length} input lengths (all three must be equal and at least 1)`,
      { batch, labels: labels.length, inputLengths: inputLengths.length },
    );
  }
  if (!Number.isInteger(blank) || blank < 0 || blank >= classes) {
    throw new BonsaiError('BONSAI_CORE_CTC_BLANK', `CTC: blank ${blank} is not a class id in 0..${classes - 1}`, { blank, classes });
  }
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new BonsaiError('BONSAI_CORE_CTC_REDUCTION', `CTC: reduction ${JSON.stringify(reduction)} is not one of "mean", "sum", "none"`, { reduction });
  }
  for (let b = 0; b < batch; b++) {
    const frames = inputLengths[b];
    if (!Number.isInteger(frames) || frames < 0 || frames > time) {
      throw new BonsaiError('BONSAI_CORE_CTC_INPUT_LENGTH', `CTC: input length ${frames} of batch item ${b} is not an integer in 0..${time}`, { batchIndex: b, inputLength: frames, time });
    }
    const label = labels[b];
    label.forEach((id, position) => {
      if (!Number.isInteger(id) || id < 0 || id >= classes || id === blank) {
        throw new BonsaiError(
          'BONSAI_CORE_CTC_LABEL',
          `CTC: label id ${id} at position ${position} of batch item ${b} is not a non-blank class id (classes 0..${classes - 1}, blank ${blank})`,
          { batchIndex: b, position, id, classes, blank },
        );
      }
    });
    const required = ctcMinInputLength(label);
    if (required > frames) {
      throw new BonsaiError(
        'BONSAI_CORE_CTC_LABEL_TOO_LONG',
        `CTC: label of batch item ${b} has length ${label.length} with ${required - label.length} repeats and needs at least ${required} frames, but its input length is ${frames}`,
        { batchIndex: b, labelLength: label.length, repeats: required - label.length, required, inputLength: frames },
      );
    }
  }
}

/** log-softmax over the class axis in float64, only for frames inside each input length. */
function logSoftmaxRows(logits: Float32Array, batch: number, time: number, classes: number, inputLengths: readonly number[]): Float64Array {
  const out = new Float64Array(logits.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < inputLengths[b]; t++) {
      const row = (b * time + t) * classes;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) {
        const v = logits[row + k];
        if (Number.isNaN(v) || v === Infinity) {
          throw new BonsaiError('BONSAI_CORE_CTC_NON_FINITE', `CTC: logit [${b}, ${t}, ${k}] is ${v}`, { index: [b, t, k], value: String(v) });
        }
        if (v > max) max = v;
      }
      if (max === -Infinity) {
        throw new BonsaiError('BONSAI_CORE_CTC_NON_FINITE', `CTC: every logit of frame [${b}, ${t}] is -Infinity`, { index: [b, t], value: '-Infinity' });
      }
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += Math.exp(logits[row + k] - max);
      const logZ = max + Math.log(sum);
      for (let k = 0; k < classes; k++) out[row + k] = logits[row + k] - logZ;
    }
  }
  return out;
}

/** The extended label l': blank, l1, blank, l2, ..., blank (length 2L + 1). */
function extendLabel(label: readonly number[], blank: number): Int32Array {
  const ext = new Int32Array(2 * label.length + 1).fill(blank);
  label.forEach((id, i) => { ext[2 * i + 1] = id; });
  return ext;
}

/** log(exp(a) + exp(b)) without overflow; -Infinity is the log of 0. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/** alpha[t * S + s]: log probability of the prefixes of l' ending in state s at frame t, emission at t included. */
function forwardAlpha(lp: Float64Array, offset: number, classes: number, frames: number, ext: Int32Array): Float64Array {
  const S = ext.length;
  const alpha = new Float64Array(Math.max(frames, 0) * S).fill(-Infinity);
  if (frames === 0) return alpha;
  alpha[0] = lp[offset + ext[0]];
  if (S > 1) alpha[1] = lp[offset + ext[1]];
  for (let t = 1; t < frames; t++) {
    const row = offset + t * classes;
    const prev = (t - 1) * S;
    for (let s = 0; s < S; s++) {
      let a = alpha[prev + s];
      if (s >= 1) a = logAdd(a, alpha[prev + s - 1]);
      if (s >= 2 && ext[s] !== ext[0] /* blank */ && ext[s] !== ext[s - 2]) a = logAdd(a, alpha[prev + s - 2]);
      alpha[t * S + s] = a === -Infinity ? -Infinity : a + lp[row + ext[s]];
    }
  }
  return alpha;
}

/** beta[t * S + s]: log probability of completing l' from state s at frame t, emission at t excluded. */
function backwardBeta(lp: Float64Array, offset: number, classes: number, frames: number, ext: Int32Array): Float64Array {
  const S = ext.length;
  const beta = new Float64Array(Math.max(frames, 0) * S).fill(-Infinity);
  if (frames === 0) return beta;
  beta[(frames - 1) * S + S - 1] = 0;
  if (S > 1) beta[(frames - 1) * S + S - 2] = 0;
  for (let t = frames - 2; t >= 0; t--) {
    const row = offset + (t + 1) * classes;
    const next = (t + 1) * S;
    for (let s = 0; s < S; s++) {
      let c = beta[next + s] + lp[row + ext[s]];
      if (s + 1 < S) c = logAdd(c, beta[next + s + 1] + lp[row + ext[s + 1]]);
      if (s + 2 < S && ext[s + 2] !== ext[0] && ext[s + 2] !== ext[s]) c = logAdd(c, beta[next + s + 2] + lp[row + ext[s + 2]]);
      beta[t * S + s] = c;
    }
  }
  return beta;
}
