/**
 * The promotion gate: a candidate is promoted only if it is not measurably worse
 * than the champion on the same validation samples: the paired decision of
 * core/prune/decision.ts (the one pruning uses), with a margin of `gate.margin`
 * standard errors of the paired difference and a stated `gate.tolerance` (default
 * 0); otherwise it is kept as `rejected`, with the reason and the counts. The validation split includes the new data's validation samples, so
 * a champion that has not seen a new class is measured on it too.
 *
 * `validationError` runs in the trainer child (off the serving path); the
 * decision is a pure function, applied by the updater (daemon/trainer/updater.ts).
 */
import { type Dataset, type MaskedModel, classificationTask, DEFAULT_NO_LOSS_RULE, judge, type PairedEvidence } from '../../core/index.ts';

/** Error rate (fraction of wrong argmax classes) of `model` on `data`; 0 for empty data. */
export function validationError(model: MaskedModel, data: Dataset, batchSize = 256): number {
  return classificationTask().errorRate(model, data, batchSize);
}

/** What the gate compares. */
export interface GateInput {
  candidateVersion: number;
  candidateError: number;
  /** Null when there is no champion (the first model). */
  championVersion: number | null;
  championError: number | null;
  /** Allowed excess error (absolute, 0..1). */
  tolerance: number;
  /** Validation samples both were measured on. */
  samples: number;
  /**
   * What those samples are: `validation` (held out), or `training` when the store had no
   * validation samples and the update was measured on its training data (said in the reason).
   */
  samplesOf?: 'validation' | 'training';
  /** Per-sample comparison of candidate and champion (absent: the error rates alone are compared). */
  evidence?: PairedEvidence | null;
  /** Margin in standard errors of the paired difference (config `gate.margin`). */
  margin?: number;
}

/** The gate's verdict. */
export interface GateDecision {
  promote: boolean;
  /** The comparison in words, with the numbers (stored in the manifest and the history). */
  reason: string;
}

const pct = (e: number): string => `${(100 * e).toFixed(2)}%`;

/** `N validation samples`, or for training samples what that means. */
function samplesText(input: GateInput, n: number): string {
  return input.samplesOf === 'training' ? `${n} training samples (the store has no validation samples: nothing held out was measured)` : `${n} validation samples`;
}

/** Promote iff `candidateError <= championError + tolerance`; a first model is promoted (nothing to compare with). */
export function decide(input: GateInput): GateDecision {
  const on = `on ${samplesText(input, input.samples)}`;
  if (input.championVersion === null || input.championError === null) {
    return { promote: true, reason: `first model: validation error ${pct(input.candidateError)} ${on}` };
  }
  if (input.evidence) return decidePaired(input, input.evidence);
  const limit = input.championError + input.tolerance;
  // Errors are ratios of counts: compare with a hair of slack for float rounding.
  const promote = input.candidateError <= limit + 1e-12;
  const tol = input.tolerance > 0 ? ` + tolerance ${pct(input.tolerance)}` : '';
  return {
    promote,
    reason: promote
      ? `validation error ${pct(input.candidateError)} <= champion ${input.championVersion}'s ${pct(input.championError)}${tol} ${on}`
      : `validation error ${pct(input.candidateError)} > champion ${input.championVersion}'s ${pct(input.championError)}${tol} ${on}`,
  };
}

/**
 * The paired decision: promote unless the candidate's excess errors exceed
 * tolerance * units + min(margin * sqrt(V), half a point): pruning's rule.
 */
function decidePaired(input: GateInput, evidence: PairedEvidence): GateDecision {
  const d = judge(evidence, { ...DEFAULT_NO_LOSS_RULE, z: input.margin ?? 0, tolerance: input.tolerance });
  const tol = input.tolerance > 0 ? ` + tolerance ${pct(input.tolerance)}` : '';
  const counts = `worse on ${d.worse}, better on ${d.better} of ${samplesText(input, d.samples)}: excess ${d.excess} ${d.accept ? '<=' : '>'} margin ${d.margin.toFixed(1)} (${input.margin ?? 0} SE${tol})`;
  return {
    promote: d.accept,
    reason: `validation error ${pct(input.candidateError)} vs champion ${input.championVersion}'s ${pct(input.championError ?? 0)}, ${counts}`,
  };
}
