/**
 * Gradient-based growth (paper section 4.2.1, eq. 1-2).
 *
 * Over one epoch with updates paused, the gradient of the loss w.r.t. every
 * connection is averaged (Trainer.growthGradients). A dormant connection w is
 * activated iff |w.grad| > the alpha-th percentile of |W.grad| (30 <= alpha <= 50 in
 * the paper), and initialised to -eta * w.grad. The percentile is taken over all of
 * |W.grad|, live connections included, as eq. (1) writes it (scope `all`, the
 * default), or over the dormant connections only (scope `dormant`, this project's
 * earlier rule).
 *
 * Sign: the paper writes "eta x w.grad"; we use -eta x w.grad, the first step of
 * gradient descent from zero, which lowers the loss to first order (a +eta*g start
 * would raise it by eta*g^2). A test checks the loss falls.
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';

/**
 * The q-th percentile (0..100) of `values`, linearly interpolated between closest
 * ranks (numpy's default): rank = q/100 * (n-1).
 */
export function percentile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = (q / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export interface GrowthDecision {
  /** New mask (dormant connections above the threshold set to 1). */
  mask: Float32Array;
  /** Flat indices of the connections grown. */
  grown: Int32Array;
  /** The percentile threshold of |g| over dormant connections. */
  threshold: number;
}

/** Which gradients the growth percentile is taken over (see the file comment). */
export type GrowthScope = 'all' | 'dormant';

/**
 * Pure growth rule for one tensor: activate dormant entries whose |gradient| exceeds
 * the `growthPercentile`-th percentile of |gradient| over the entries of `scope`.
 */
export function growMask(gradients: Float32Array, mask: Float32Array, growthPercentile: number, scope: GrowthScope = 'all'): GrowthDecision {
  let count = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === 0) count++;
  const out = Float32Array.from(mask);
  if (count === 0) return { mask: out, grown: new Int32Array(0), threshold: NaN };
  const dormant = new Int32Array(count);
  const magnitudes = new Float32Array(count);
  for (let i = 0, k = 0; i < mask.length; i++) {
    if (mask[i] === 0) {
      dormant[k] = i;
      magnitudes[k++] = Math.abs(gradients[i]);
    }
  }
  const threshold = scope === 'all' ? percentile(gradients.map(Math.abs), growthPercentile) : percentile(magnitudes, growthPercentile);
  const grown: number[] = [];
  for (let k = 0; k < count; k++) {
    if (magnitudes[k] > threshold) {
      out[dormant[k]] = 1;
      grown.push(dormant[k]);
    }
  }
  return { mask: out, grown: Int32Array.from(grown), threshold };
}

export interface GrowthReport {
  /** Connections grown per kernel name. */
  grown: Record<string, number>;
  /** Flat indices grown per kernel name (for plots such as the paper's Fig. 4). */
  indices: Record<string, Int32Array>;
  total: number;
}

/**
 * Applies one growth step to every kernel of `model` from averaged gradients (one
 * Float32Array per kernel, in `model.kernels` order). New connections start at
 * -learningRate * gradient. All-or-nothing: decisions are computed for every tensor
 * before any is changed.
 */
export function applyGrowth(model: MaskedModel, gradients: Float32Array[], growthPercentile: number, learningRate: number, scope: GrowthScope = 'all'): GrowthReport {
  const kernels = model.kernels;
  const decisions = kernels.map((k, i) => growMask(gradients[i], k.mask.dataSync() as Float32Array, growthPercentile, scope));
  const report: GrowthReport = { grown: {}, indices: {}, total: 0 };
  kernels.forEach((k, i) => {
    const d = decisions[i];
    report.grown[k.name] = d.grown.length;
    report.indices[k.name] = d.grown;
    report.total += d.grown.length;
    if (d.grown.length === 0) return;
    const values = Float32Array.from(k.value.dataSync() as Float32Array);
    for (const j of d.grown) values[j] = -learningRate * gradients[i][j];
    k.setMask(tf.tensor(d.mask, k.shape));
    k.setValue(tf.tensor(values, k.shape));
  });
  return report;
}
