/**
 * Iterative magnitude pruning with retraining (paper section 4.3): each iteration
 * removes the beta smallest live connections of every kernel, then retrains in
 * chunks until the validation error is back at the pre-pruning level ("no accuracy
 * loss"); the first iteration that cannot recover within `recoveryEpochsMax` epochs
 * is undone and pruning stops. With `recoverable` the neuron condition holds too.
 * Non-recoverable pruning (optional, afterwards) drops the neuron condition and
 * accepts an error up to `tolerance` above the baseline.
 */
import * as tf from '../tf.ts';
import type { Trainer } from '../train/trainer.ts';
import { pruneMask } from './magnitude.ts';
import { restoreSnapshot, takeSnapshot } from './snapshot.ts';

export interface IterativePruneArgs {
  /** Fraction of live connections removed per kernel per iteration (beta; 0.03..0.05). */
  pruneFraction: number;
  /** Keep the neuron condition (section 4.3.2). */
  recoverable: boolean;
  /** Allowed validation error above the pre-pruning error (0 = no accuracy loss). */
  tolerance: number;
  /** Retraining budget per iteration, in epochs of the training data. */
  recoveryEpochsMax: number;
  /** Retraining chunk between validation checks, as a fraction of an epoch. */
  recoveryChunk: number;
  /** Upper bound on iterations. */
  maxIterations: number;
  /** Phase name for cost and progress. */
  phase: string;
}

export interface PruneIteration {
  iteration: number;
  pruned: number;
  density: number;
  errorRate: number;
  retrainedSamples: number;
  accepted: boolean;
}

export interface PruneReport {
  baselineError: number;
  finalError: number;
  iterations: PruneIteration[];
  liveParams: number;
}

export function iterativePrune<D extends { n: number }>(trainer: Trainer<D>, train: D, validation: D, args: IterativePruneArgs): PruneReport {
  const model = trainer.model;
  const baselineError = trainer.errorRate(validation, args.phase);
  const target = baselineError + args.tolerance;
  const iterations: PruneIteration[] = [];
  let finalError = baselineError;
  for (let it = 1; it <= args.maxIterations; it++) {
    const snapshot = takeSnapshot(model);
    let pruned = 0;
    for (const k of model.kernels) {
      const d = pruneMask({
        values: k.value.dataSync(), mask: k.mask.dataSync(), shape: k.shape, outAxis: k.outAxis, inAxis: k.inAxis,
        fraction: args.pruneFraction, recoverable: args.recoverable, sendersAreNeurons: k.sendersAreNeurons,
      });
      if (d.pruned.length === 0) continue;
      pruned += d.pruned.length;
      k.setMask(tf.tensor(d.mask, k.shape));
    }
    if (pruned === 0) {
      restoreSnapshot(model, snapshot);
      break;
    }
    trainer.optimizer.syncMasks(model.params);
    let error = trainer.errorRate(validation, args.phase);
    let retrained = 0;
    const chunk = Math.max(1, Math.ceil(train.n * args.recoveryChunk));
    while (error > target && retrained < args.recoveryEpochsMax * train.n) {
      trainer.trainEpoch(train, args.phase, it, chunk);
      retrained += Math.min(chunk, train.n);
      error = trainer.errorRate(validation, args.phase);
    }
    const accepted = error <= target;
    if (!accepted) restoreSnapshot(model, snapshot);
    else finalError = error;
    snapshot.dispose();
    if (!accepted) trainer.optimizer.syncMasks(model.params);
    const density = model.density();
    iterations.push({ iteration: it, pruned, density, errorRate: error, retrainedSamples: retrained, accepted });
    trainer.progress({ phase: args.phase, kind: 'prune', step: it, errorRate: error, changed: accepted ? pruned : 0 });
    if (!accepted) break;
  }
  return { baselineError, finalError, iterations, liveParams: model.liveParams() };
}
