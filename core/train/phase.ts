/**
 * The phases of an update, by one name from the trainer to the metrics. Core runs
 * the first six (paper section 4): growth on the new data (E1 epochs), growth on all
 * data (E2), training of the baselines and of a first model, recoverable pruning,
 * non-recoverable pruning, and validation passes outside them. The daemon's trainer
 * adds the steps around them: loading the champion, evaluating the candidate and
 * publishing it.
 */

/** Phases of core's strategies (core/update/strategies.ts, core/prune/iterative.ts). */
export const CORE_PHASES = ['growth-new', 'growth-all', 'train', 'prune', 'prune-nonrecoverable', 'eval'] as const;

/** Phases of training: each step changes weights or masks (what `bonsai_training_sample_epochs_total` counts). */
export const TRAINING_PHASES = ['growth-new', 'growth-all', 'train', 'prune', 'prune-nonrecoverable'] as const;

/** Steps of an update around core's phases (daemon/trainer/train.ts). */
export const UPDATE_STEPS = ['load', 'evaluate', 'publish'] as const;

/** A phase of core's strategies. */
export type CorePhase = (typeof CORE_PHASES)[number];

/** A phase of training. */
export type TrainingPhase = (typeof TRAINING_PHASES)[number];

/** Any phase of an update, as progress events, logs (`update.phase`) and metrics name it. */
export type Phase = CorePhase | (typeof UPDATE_STEPS)[number];

/** Every phase, in the order of an update. */
export const PHASES: readonly Phase[] = ['load', ...CORE_PHASES, 'evaluate', 'publish'];

/** Whether `name` is a phase (a key of cost or timing records). */
export function isPhase(name: string): name is Phase {
  return (PHASES as readonly string[]).includes(name);
}
