/**
 * Drift statistics as pure functions: binning against reference quantiles,
 * the Population Stability Index and the Jensen-Shannon divergence.
 *
 * PSI = sum_i (q_i - p_i) * ln(q_i / p_i) over bins, with p the reference and q
 * the current distribution, both smoothed so no bin is empty. By convention
 * (not mathematics) < 0.1 means no shift, 0.1-0.25 moderate, > 0.25 major
 * (Siddiqi, "Credit Risk Scorecards", 2006, ch. 8).
 * JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in bits, so
 * it lies in [0, 1] (Lin, "Divergence measures based on the Shannon entropy",
 * IEEE Trans. Inf. Theory 37(1), 1991).
 *
 * Inputs are summarised per sample (mean and standard deviation of its
 * features, e.g. mean intensity of an image) and the summaries are binned at
 * the training set's deciles; predicted classes are compared with the training
 * label distribution.
 */
import { BonsaiError } from '../../core/errors.ts';

/** Smoothing floor of a bin probability for PSI (empty bins would make it infinite). */
export const PSI_EPSILON = 1e-4;

/** Relative resolution of quantile cuts: cuts closer than this fraction of the values' magnitude are merged. */
export const CUT_RESOLUTION = 1e-4;

/** A binned distribution: `cuts` are the k-1 inner bin edges of k bins, `probs` the k bin probabilities. */
export interface BinnedDistribution {
  /** Ascending inner edges; bin i holds values v with cuts[i-1] <= v < cuts[i] (first and last bins are open-ended). */
  cuts: number[];
  /** Probability of each bin (sums to 1). */
  probs: number[];
}

/** The per-sample input summaries that drift is measured on. */
export type InputSummary = 'mean' | 'std';

/** The training-time reference a model carries for drift scores. */
export interface DriftReference {
  /** Reference distribution of each input summary over the training samples. */
  inputs: Partial<Record<InputSummary, BinnedDistribution>>;
  /** Training label distribution: `classes[k]` is the fraction of samples of class k. */
  classes: number[];
}

/** One drift score, exported as `bonsai_drift_score{method,scope}`. */
export interface DriftScore {
  method: 'psi' | 'js';
  /** `input_mean`, `input_std` (per-sample input summaries) or `prediction` (predicted classes). */
  scope: 'input_mean' | 'input_std' | 'prediction';
  value: number;
}

/**
 * Quantile cut points that split `values` into `bins` bins of (about) equal
 * mass: the type-7 (linear interpolation) quantiles at 1/bins, ..., (bins-1)/bins,
 * with cuts closer than `CUT_RESOLUTION` of the values' magnitude merged. A
 * constant feature gets two cuts just around its value, so any change shows.
 */
export function quantileCuts(values: ArrayLike<number>, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 2) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', `bins must be an integer >= 2, got ${bins}`, { bins });
  }
  if (values.length === 0) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', 'cannot compute quantiles of no values', { bins });
  }
  const sorted = Float64Array.from(values).sort();
  const lowest = sorted[0];
  const highest = sorted[sorted.length - 1];
  // Cuts closer than this are one cut: float32 rounding must not create bins.
  const tol = Math.max(Math.abs(lowest), Math.abs(highest)) * CUT_RESOLUTION || Number.MIN_VALUE;
  if (highest - lowest <= tol) {
    // A constant feature: one bin for "as in training", one each side for any change.
    return [lowest - tol, highest + tol];
  }
  const cuts: number[] = [];
  for (let i = 1; i < bins; i++) {
    const h = (sorted.length - 1) * (i / bins);
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, sorted.length - 1);
    const q = sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    if (cuts.length === 0 || q > cuts[cuts.length - 1] + tol) cuts.push(q);
  }
  return cuts;
}

/** Index of the bin of `value`: the number of cuts that are <= value. */
export function binIndex(cuts: readonly number[], value: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cuts[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts of `values` per bin of `cuts` (length cuts.length + 1). */
export function binCounts(values: ArrayLike<number>, cuts: readonly number[]): number[] {
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) counts[binIndex(cuts, values[i])] += 1;
  return counts;
}

/** Counts to probabilities; with `epsilon > 0`, every bin gets at least epsilon and the result is renormalised. */
export function toProbabilities(counts: readonly number[], epsilon = 0): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', 'cannot normalise an empty histogram', { bins: counts.length });
  }
  const p = counts.map((c) => Math.max(c / total, epsilon));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / sum);
}

function checkSameLength(reference: readonly number[], current: readonly number[]): void {
  if (reference.length !== current.length || reference.length === 0) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', `distributions must have the same, non-zero number of bins: reference ${reference.length}, current ${current.length}`, { reference: reference.length, current: current.length });
  }
}

/** Population Stability Index of `current` against `reference` (probabilities; smoothed with `epsilon`). */
export function populationStabilityIndex(reference: readonly number[], current: readonly number[], epsilon = PSI_EPSILON): number {
  checkSameLength(reference, current);
  const p = toProbabilities(reference, epsilon);
  const q = toProbabilities(current, epsilon);
  let psi = 0;
  for (let i = 0; i < p.length; i++) psi += (q[i] - p[i]) * Math.log(q[i] / p[i]);
  return psi;
}

/** Jensen-Shannon divergence in bits (0 = identical, 1 = disjoint) of two distributions (normalised here). */
export function jensenShannonDivergence(reference: readonly number[], current: readonly number[]): number {
  checkSameLength(reference, current);
  const p = toProbabilities(reference);
  const q = toProbabilities(current);
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) js += 0.5 * p[i] * Math.log2(p[i] / m);
    if (q[i] > 0) js += 0.5 * q[i] * Math.log2(q[i] / m);
  }
  // Rounding can leave a tiny negative value for identical inputs.
  return Math.min(1, Math.max(0, js));
}

/** Per-sample mean and (population) standard deviation of `n` samples of `sampleSize` values laid out row-major. */
export function sampleSummaries(batch: Float32Array, n: number, sampleSize: number): Record<InputSummary, Float64Array> {
  if (batch.length !== n * sampleSize) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', `batch has ${batch.length} values, expected ${n} x ${sampleSize}`, { length: batch.length, n, sampleSize });
  }
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let sum = 0;
    let sumSq = 0;
    const off = s * sampleSize;
    for (let i = 0; i < sampleSize; i++) {
      const v = batch[off + i];
      sum += v;
      sumSq += v * v;
    }
    const m = sum / sampleSize;
    mean[s] = m;
    std[s] = Math.sqrt(Math.max(0, sumSq / sampleSize - m * m));
  }
  return { mean, std };
}

/** Distribution of `classes` (integers in [0, numClasses)) as counts per class. */
export function classCounts(classes: Iterable<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new BonsaiError('BONSAI_DAEMON_BAD_DRIFT_INPUT', `class ${c} is outside [0, ${numClasses})`, { class: c, numClasses });
    }
    counts[c] += 1;
  }
  return counts;
}

/**
 * The reference a trainer stores with a model: decile bins of the per-sample
 * input summaries and the label distribution of the training set.
 */
export function buildDriftReference(samples: { batch: Float32Array; n: number; sampleSize: number }, labels: ArrayLike<number>, numClasses: number, bins = 10): DriftReference {
  const summaries = sampleSummaries(samples.batch, samples.n, samples.sampleSize);
  const inputs: Partial<Record<InputSummary, BinnedDistribution>> = {};
  for (const key of ['mean', 'std'] as const) {
    const cuts = quantileCuts(summaries[key], bins);
    inputs[key] = { cuts, probs: toProbabilities(binCounts(summaries[key], cuts)) };
  }
  return { inputs, classes: toProbabilities(classCounts(Array.from(labels), numClasses)) };
}

/** PSI and JS of current input summaries and predicted classes against a reference. */
export function driftScores(reference: DriftReference, current: { summaries: Partial<Record<InputSummary, ArrayLike<number>>>; predicted: ArrayLike<number> }): DriftScore[] {
  const scores: DriftScore[] = [];
  for (const key of ['mean', 'std'] as const) {
    const ref = reference.inputs[key];
    const values = current.summaries[key];
    if (ref === undefined || values === undefined || values.length === 0) continue;
    const counts = binCounts(values, ref.cuts);
    const scope = key === 'mean' ? 'input_mean' : 'input_std';
    scores.push({ method: 'psi', scope, value: populationStabilityIndex(ref.probs, counts) });
    scores.push({ method: 'js', scope, value: jensenShannonDivergence(ref.probs, counts) });
  }
  if (reference.classes.length > 0 && current.predicted.length > 0) {
    const counts = classCounts(Array.from(current.predicted), reference.classes.length);
    scores.push({ method: 'psi', scope: 'prediction', value: populationStabilityIndex(reference.classes, counts) });
    scores.push({ method: 'js', scope: 'prediction', value: jensenShannonDivergence(reference.classes, counts) });
  }
  return scores;
}
