/**
 * Iterative magnitude pruning with retraining (paper section 4.3).
 *
 * The pre-pruning model is measured once per validation sample. Each iteration
 * removes the smallest `fraction` of every kernel's live connections, retrains for
 * a fixed budget (`retrainEpochs` of the training data), and then takes ONE
 * decision (core/prune/decision.ts): the candidate is compared with the
 * pre-pruning model on the same validation samples, by a paired test whose margin
 * follows the validation set's size. Never the best of several checks: the
 * minimum of k noisy measurements passes by chance.
 *
 * The step adapts: a success doubles the fraction, up to `maxFraction`, so a model
 * with much to lose (a dense baseline, a freshly grown network) sheds it in a few
 * iterations instead of dozens of beta-sized ones. An iteration that fails is undone
 * (weights, masks, state) and retried with half the fraction, and the step never
 * again grows past that half (nor below beta), so a rejected size is not tried again
 * at once; after `retries` consecutive failures pruning stops, and so it does when a
 * failure would take the step below a quarter of beta: an iteration costs its full
 * retraining budget and decision whatever its step, and near the point of loss, steps
 * of 1 % accepted by chance would otherwise crawl on for dozens of iterations. Every decision is
 * against the pre-pruning model, so a larger step never compounds losses. With
 * `recoverable` the neuron condition holds (section 4.3.2). Non-recoverable
 * pruning (optional, afterwards, on a copy: see core/update/strategies.ts) drops
 * the neuron condition and passes a rule with a tolerance.
 */
import * as tf from '../tf.ts';
import type { Trainer } from '../train/trainer.ts';
import type { CorePhase } from '../train/phase.ts';
import type { SampleErrors } from '../train/task.ts';
import { globalFractions, pruneMask } from './magnitude.ts';
import { restoreSnapshot, takeSnapshot } from './snapshot.ts';
import { noLossDecision, validationAdequacy, type NoLossDecision, type NoLossRule } from './decision.ts';

export interface IterativePruneArgs {
  /** Fraction of live connections removed per kernel per iteration (beta; 0.03..0.05). */
  pruneFraction: number;
  /** Largest fraction a run of successes doubles the step to (default: pruneFraction, a fixed step). */
  maxFraction?: number;
  /** Smallest step: a failure that would halve the step below it stops pruning (default: a quarter of pruneFraction). */
  minFraction?: number;
  /**
   * Fractions of the first iteration, one per kernel (default: pruneFraction everywhere).
   * An update prunes a grown model straight back to its parent's size this way. An accepted
   * one that fell short of the live counts it aimed at is followed by the rest of the way
   * (until that would be at most beta in every kernel). A rejected one is undone, and the
   * adaptive steps take over from half of its share of all live connections (at least beta,
   * at most the ceiling), not by halving it per kernel and trying the rest of the way again
   * (two retrainings per halving). Rejections of these steps do not count towards `retries`.
   */
  firstStep?: readonly number[];
  /** Keep the neuron condition (section 4.3.2). */
  recoverable: boolean;
  /** The "no accuracy loss" rule (a tolerance > 0 allows a stated loss). */
  rule: NoLossRule;
  /** Fixed retraining budget per iteration, in epochs of the training data. */
  retrainEpochs: number;
  /**
   * End each retraining as the mean of its iterates over the second half of the budget (default
   * false): the reference must then be averaged the same way (UpdateConfig.averageRetraining).
   */
  averageRetraining?: boolean;
  /**
   * Per-sample validation errors of other draws of the process that made the starting model
   * (the same retraining from the same state, other random batches: core/update/strategies.ts).
   * The reference is the mean of the starting model's errors and theirs: one draw can be lucky
   * on the validation set, and every decision of the run is against it (docs/pruning.md).
   */
  otherDraws?: readonly SampleErrors[];
  /** Failed iterations retried with half the fraction before pruning stops. */
  retries: number;
  /** Upper bound on iterations (accepted and failed). */
  maxIterations: number;
  /** Phase for cost and progress: `prune` or `prune-nonrecoverable`. */
  phase: Extract<CorePhase, 'prune' | 'prune-nonrecoverable'>;
  /**
   * Loss (error fraction) the validation set must resolve at the pre-pruning model's measured
   * error (`validationAdequacy`); on a smaller set pruning is conservative (`conservativeArgs`).
   * Undefined: no check.
   */
  resolution?: number;
  /**
   * Which connections a step of `fraction` removes: the smallest of each kernel (`layer`, the
   * default: eq. 3 per tensor) or the smallest of all kernels by one threshold (`global`).
   */
  scope?: PruneScope;
}

/** Pruning's percentile: per kernel, or one over all kernels. */
export type PruneScope = 'layer' | 'global';

/** Whether the validation set could resolve `resolution` at the pre-pruning model's measured error. */
export interface PruneAdequacy {
  samples: number;
  /** The pre-pruning model's validation error the judgement used. */
  error: number;
  adequate: boolean;
  /** The smallest adequate validation set at that error. */
  minSamples: number;
}

export interface PruneIteration {
  iteration: number;
  /** Fraction of live connections the iteration removed. */
  fraction: number;
  pruned: number;
  /** Density after the iteration (after its undo when rejected). */
  density: number;
  /** Candidate's validation error, measured once after retraining. */
  errorRate: number;
  /** Excess errors over the pre-pruning model and the margin they were held to. */
  excess: number;
  margin: number;
  retrainedSamples: number;
  accepted: boolean;
}

export interface PruneReport {
  /** Validation error of the pre-pruning model. */
  baselineError: number;
  /** Validation error of the model the phase ends with. */
  finalError: number;
  iterations: PruneIteration[];
  liveParams: number;
  /** Why pruning stopped. */
  stop: 'failures' | 'max-iterations' | 'nothing-to-prune';
  /** Draws the reference averages: the starting model's and `otherDraws`. */
  referenceDraws: number;
  /** The last decision of an accepted iteration (null when none was accepted). */
  lastAccepted: NoLossDecision | null;
  /** The validation set's adequacy, when `resolution` was given. */
  adequacy?: PruneAdequacy;
}

/** The default smallest step, as a share of beta: a failure that would go below it stops pruning. */
const MIN_STEP_OF_BETA = 1 / 4;

/**
 * Pruning on a validation set too small for its decision: the margin capped at half the
 * resolution (however many standard errors that is) and the fraction halved, as a fixed
 * step (no doubling).
 */
export function conservativeArgs<A extends Pick<IterativePruneArgs, 'pruneFraction' | 'minFraction' | 'maxFraction' | 'rule'>>(args: A, resolution: number): A {
  const pruneFraction = args.pruneFraction / 2;
  const maxLoss = Math.min(args.rule.maxLoss ?? Infinity, resolution / 2);
  return { ...args, rule: { ...args.rule, maxLoss }, pruneFraction, maxFraction: pruneFraction, minFraction: (args.minFraction ?? args.pruneFraction * MIN_STEP_OF_BETA) / 2 };
}

/**
 * Removes `fraction` of the live connections; returns how many were removed. One fraction per
 * kernel, or one for all: of every kernel's live connections (`scope` `layer`, eq. 3 per
 * tensor), or of all kernels' together by one magnitude threshold (`global`).
 */
export function pruneStep<D extends { n: number }>(trainer: Trainer<D>, fraction: number | readonly number[], recoverable: boolean, scope: PruneScope = 'layer'): number {
  const kernels = trainer.model.kernels;
  const tensors = kernels.map((k) => ({ values: k.value.dataSync(), mask: k.mask.dataSync() }));
  const fractions = typeof fraction !== 'number' ? fraction
    : scope === 'global' ? globalFractions(tensors, fraction)
      : kernels.map(() => fraction);
  let pruned = 0;
  for (const [i, k] of kernels.entries()) {
    const d = pruneMask({
      ...tensors[i], shape: k.shape, outAxis: k.outAxis, inAxis: k.inAxis,
      fraction: fractions[i] ?? 0, recoverable, sendersAreNeurons: k.sendersAreNeurons,
    });
    if (d.pruned.length === 0) continue;
    pruned += d.pruned.length;
    k.setMask(tf.tensor(d.mask, k.shape));
  }
  return pruned;
}

/**
 * Retrains for a fixed budget of `epochs` epochs of `train` (whole epochs, then a partial one); returns the samples.
 * With `average`, the model ends as the mean of the iterates over the second half of the budget (Trainer.beginAverage).
 */
export function retrainFor<D extends { n: number }>(trainer: Trainer<D>, train: D, epochs: number, phase: string, iteration: number, average = false): number {
  let left = Math.round(epochs * train.n);
  if (average) trainer.beginAverage(Math.floor(left / 2));
  let done = 0;
  while (left > 0) {
    const take = Math.min(left, train.n);
    trainer.trainEpoch(train, phase, iteration, take);
    done += take;
    left -= take;
  }
  if (average) trainer.applyAverage();
  return done;
}

/** The mean of `draws` (the same validation samples and units): per sample, and the error rate. */
export function meanErrors(draws: readonly SampleErrors[]): SampleErrors {
  const [first] = draws;
  if (!first) throw new RangeError('meanErrors: no draws');
  if (draws.length === 1) return first;
  const errors = new Float32Array(first.errors.length);
  for (const d of draws) {
    if (d.errors.length !== errors.length) throw new RangeError(`meanErrors: draws of ${first.errors.length} and ${d.errors.length} samples`);
    d.errors.forEach((e, i) => { errors[i] += e; });
  }
  return { errors: errors.map((e) => e / draws.length), units: first.units, rate: draws.reduce((a, d) => a + d.rate, 0) / draws.length };
}

export function iterativePrune<D extends { n: number }>(trainer: Trainer<D>, train: D, validation: D, given: IterativePruneArgs): PruneReport {
  const model = trainer.model;
  const baseline = meanErrors([trainer.sampleErrors(validation, given.phase), ...(given.otherDraws ?? [])]);
  const baselineError = baseline.rate;
  const adequacy = given.resolution === undefined ? undefined : { samples: validation.n, error: baselineError, ...validationAdequacy(validation.n, baselineError, given.rule, given.resolution) };
  const args = adequacy && !adequacy.adequate ? conservativeArgs(given, given.resolution as number) : given;
  const iterations: PruneIteration[] = [];
  let finalError = baselineError;
  let lastAccepted: NoLossDecision | null = null;
  let fraction = args.pruneFraction;
  // The step a run of successes may double to; a rejection lowers it to half the rejected step.
  let ceiling = Math.max(args.pruneFraction, args.maxFraction ?? args.pruneFraction);
  let failures = 0;
  let stop: PruneReport['stop'] = 'max-iterations';
  // The caller's first step while it is being tried: halved after each rejection; after an acceptance short of it,
  // the rest of the way to the live counts it aims at; dropped once no kernel's share of a step exceeds beta.
  let firstStep: readonly number[] | undefined = args.firstStep;
  const firstTarget = firstStep && model.kernelLive().map((live, i) => live * (1 - (firstStep?.[i] ?? 0)));
  for (let it = 1; it <= args.maxIterations; it++) {
    const snapshot = takeSnapshot(model);
    const first = firstStep !== undefined;
    const step = firstStep ?? fraction;
    const liveBefore = first ? model.kernelLive().reduce((a, b) => a + b, 0) : 0;
    const pruned = pruneStep(trainer, step, args.recoverable, args.scope);
    if (pruned === 0) {
      restoreSnapshot(model, snapshot);
      snapshot.dispose();
      if (first) {
        firstStep = undefined;
        continue;
      }
      stop = 'nothing-to-prune';
      break;
    }
    trainer.optimizer.syncMasks(model.params);
    const retrained = retrainFor(trainer, train, args.retrainEpochs, args.phase, it, args.averageRetraining);
    const candidate = trainer.sampleErrors(validation, args.phase);
    const decision = noLossDecision(baseline.errors, candidate.errors, args.rule, baseline.units);
    if (decision.accept) {
      finalError = candidate.rate;
      lastAccepted = decision;
      failures = 0;
    } else {
      restoreSnapshot(model, snapshot);
      trainer.optimizer.syncMasks(model.params);
      // A rejected first step is no evidence that beta steps would fail: it does not count towards stopping.
      if (!first) failures += 1;
    }
    snapshot.dispose();
    iterations.push({
      iteration: it, fraction: first ? pruned / liveBefore : fraction, pruned, density: model.density(), errorRate: candidate.rate, excess: decision.excess, margin: decision.margin,
      retrainedSamples: retrained, accepted: decision.accept,
    });
    trainer.progress({ phase: args.phase, kind: 'prune', step: it, errorRate: candidate.rate, changed: decision.accept ? pruned : 0 });
    // An accepted first step short of the target is followed by the rest of the way while that is more than beta
    // somewhere; a rejected one hands over to the adaptive steps.
    if (first) {
      if (decision.accept) {
        const rest = model.kernelLive().map((live, i) => (live > 0 ? Math.max(0, 1 - (firstTarget?.[i] ?? live) / live) : 0));
        firstStep = Math.max(...rest) > args.pruneFraction + 1e-12 ? rest : undefined;
      } else {
        // The way back in one step was too far: the adaptive steps take over, from half of it (at most the ceiling).
        firstStep = undefined;
        fraction = Math.max(args.pruneFraction, Math.min(ceiling, pruned / liveBefore / 2));
      }
      continue;
    }
    if (decision.accept) {
      fraction = Math.min(ceiling, fraction * 2);
    } else {
      fraction /= 2;
      if (failures > args.retries || fraction < (args.minFraction ?? args.pruneFraction * MIN_STEP_OF_BETA) - 1e-12) {
        stop = 'failures';
        break;
      }
      ceiling = Math.max(args.pruneFraction, Math.min(ceiling, fraction));
    }
  }
  return { baselineError, finalError, iterations, liveParams: model.liveParams(), stop, referenceDraws: 1 + (given.otherDraws?.length ?? 0), lastAccepted, ...(adequacy && { adequacy }) };
}
