/**
 * The "no accuracy loss" decision of pruning and of the promotion gate: is a
 * candidate model no worse than a reference model, judged on the same samples?
 *
 * Both models are measured per sample (errors of sample i: 0/1 for a class, word
 * errors for speech). Only the differences d_i = candidate_i - reference_i carry
 * information: on a sample both get right or both get wrong, d_i = 0. The test is a
 * paired one (McNemar's for classification, Dietterich 1998): with S = sum d_i the
 * excess errors of the candidate and V = sum d_i^2 (for 0/1 errors, the number of
 * samples the two models disagree on), the candidate is accepted iff
 *
 *     S - tolerance * units  <=  z * sqrt(V) + continuity
 *
 * i.e. the measured loss is within `z` standard errors of the paired difference
 * (above a stated `tolerance`, 0 for "no loss"), plus Edwards' continuity correction of
 * one unit (`continuity`), as in Dietterich's McNemar statistic (|b - c| - 1)^2 / (b + c):
 * S counts whole errors, and without it two models that disagree on two samples, the
 * candidate wrong on both, read as a loss of 1.4 standard errors where the exact binomial
 * test gives p = 0.25. The margin shrinks with the validation set relative to its size:
 * a loss of a fixed number of points is rejected more surely on more samples. One call is one decision; callers take a
 * single measurement per candidate (never the best of several).
 *
 * False-reject and false-accept rates of the default `z` are measured on synthetic
 * cases of known loss in test/core/decision.test.ts and `npm run bench:decision`
 * (docs/pruning.md).
 */

/** The rule's settings. */
export interface NoLossRule {
  /** Margin in standard errors of the paired difference (default 1). */
  z: number;
  /** Loss accepted on top of the margin, as a fraction of the error units (0 = no loss). */
  tolerance: number;
  /**
   * Cap of the margin, as a fraction of the error units: on a validation set too small
   * to resolve a loss (see `validationAdequacy`), z standard errors can be several
   * points, and the cap keeps the accepted excess below this loss (absent: no cap).
   */
  maxLoss?: number;
  /**
   * Continuity correction added to the margin when z > 0, in units of the per-sample
   * difference (1 for whole errors; absent: 0, the uncorrected normal approximation).
   */
  continuity?: number;
}

/**
 * The default rule: within one standard error of the paired difference plus the continuity
 * correction, never more than half a point measured, no tolerance. Its false-reject rate at
 * no loss is about 16 % (Phi(-1)) where the cap does not bind and the models disagree on
 * many samples, less where they disagree on few (the correction); pruning retries a
 * rejected iteration with half the fraction, up to 3 times, so it stops by chance at a
 * lossless state in about 0.07 % of iterations (0.16^4). A true loss of 3 standard errors
 * is accepted in about 2 % of decisions (Phi(1 - 3)). On small validation sets the cap binds (one standard error of
 * 200 samples is several points) and the rule becomes strict, so pruning stops early:
 * conservative where the data cannot tell. Measured in test/core/decision.test.ts and
 * bench/results/decision.md.
 */
export const DEFAULT_NO_LOSS_RULE: NoLossRule = { z: 1, tolerance: 0, maxLoss: 0.005, continuity: 1 };

/** The evidence and verdict of one comparison. */
export interface NoLossDecision {
  accept: boolean;
  /** Samples compared. */
  samples: number;
  /** Samples on which the candidate makes more errors than the reference (b of McNemar). */
  worse: number;
  /** Samples on which it makes fewer (c of McNemar). */
  better: number;
  /** Excess errors S = sum(candidate - reference). */
  excess: number;
  /** Largest excess accepted: tolerance * units + min(z * sqrt(V) + continuity, maxLoss * units). */
  margin: number;
  /** Error rates of reference and candidate (errors / units). */
  referenceError: number;
  candidateError: number;
}

/** What a paired comparison measured, before any rule is applied (sent between processes). */
export interface PairedEvidence {
  samples: number;
  /** Denominator of the error rates (samples, or reference words). */
  units: number;
  worse: number;
  better: number;
  /** S = sum(candidate - reference). */
  excess: number;
  /** V = sum((candidate - reference)^2). */
  variance: number;
  referenceErrors: number;
  candidateErrors: number;
}

/**
 * Measures per-sample errors of a candidate against a reference on the same samples
 * in the same order. `units` is the denominator of the error rate (samples for
 * classification, reference words for WER; default: the number of samples).
 */
export function pairedEvidence(reference: ArrayLike<number>, candidate: ArrayLike<number>, units = reference.length): PairedEvidence {
  if (reference.length !== candidate.length) {
    throw new RangeError(`noLossDecision: ${reference.length} reference and ${candidate.length} candidate samples; both must be measured on the same samples`);
  }
  const e: PairedEvidence = { samples: reference.length, units, worse: 0, better: 0, excess: 0, variance: 0, referenceErrors: 0, candidateErrors: 0 };
  for (let i = 0; i < reference.length; i++) {
    const d = candidate[i] - reference[i];
    e.referenceErrors += reference[i];
    e.candidateErrors += candidate[i];
    if (d === 0) continue;
    e.excess += d;
    e.variance += d * d;
    if (d > 0) e.worse++;
    else e.better++;
  }
  return e;
}

/**
 * Applies the rule to measured evidence: accept iff
 * S - tolerance * units <= min(z * sqrt(V) + continuity, maxLoss * units) (no continuity when z = 0 or V = 0).
 */
export function judge(e: PairedEvidence, rule: NoLossRule = DEFAULT_NO_LOSS_RULE): NoLossDecision {
  const noise = rule.z > 0 && e.variance > 0 ? rule.z * Math.sqrt(e.variance) + (rule.continuity ?? 0) : 0;
  const margin = rule.tolerance * e.units + (rule.maxLoss === undefined ? noise : Math.min(noise, rule.maxLoss * e.units));
  const per = (x: number): number => (e.units > 0 ? x / e.units : 0);
  return {
    accept: e.excess <= margin + 1e-9, samples: e.samples, worse: e.worse, better: e.better, excess: e.excess, margin,
    referenceError: per(e.referenceErrors), candidateError: per(e.candidateErrors),
  };
}

/** `judge(pairedEvidence(reference, candidate, units), rule)`: one decision on the same samples. */
export function noLossDecision(
  reference: ArrayLike<number>, candidate: ArrayLike<number>, rule: NoLossRule = DEFAULT_NO_LOSS_RULE, units = reference.length,
): NoLossDecision {
  return judge(pairedEvidence(reference, candidate, units), rule);
}

/**
 * Whether `samples` validation samples can resolve a loss of `resolution` (error
 * fraction) at a reference error rate `error`: the rule's margin on that many
 * samples, at the disagreement two retrained models typically show (about the error
 * rate itself, and at least one sample), must be at most the resolution.
 * Returns the smallest adequate size too, for messages.
 */
export function validationAdequacy(samples: number, error: number, rule: NoLossRule, resolution: number): { adequate: boolean; minSamples: number } {
  // Margin in error fraction: z * sqrt(d * n) / n = z * sqrt(d / n), with d the disagreement rate.
  const d = Math.min(0.5, Math.max(error, 0.01));
  const minSamples = Math.ceil((rule.z * rule.z * d) / (resolution * resolution));
  const floor = 100;
  const need = Math.max(floor, minSamples);
  return { adequate: samples >= need, minSamples: need };
}
