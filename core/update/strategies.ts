/**
 * The three update strategies of the paper's comparisons (section 5), on one
 * trainer and one pruning policy:
 *
 * - `ours` (grow-and-prune, section 4): growth + training on the new data for E1
 *   epochs, then on all data for E2 epochs, then recoverable pruning. The first
 *   model grows from a sparse random seed network on all the data it has.
 * - `tfs` (training from scratch): a fresh dense model trained on all data, pruned.
 * - `nft` (naive fine-tuning): a dense model kept across updates, fine-tuned on all
 *   data; a copy of it is pruned and served.
 */
import type { MaskedModel, ModelSpec } from '../models/model.ts';
import { createModel } from '../models/index.ts';
import { Trainer, type TrainerHooks } from '../train/trainer.ts';
import { CostLedger, type CostSummary } from '../train/cost.ts';
import type { SampleErrors, Task } from '../train/task.ts';
import type { CorePhase } from '../train/phase.ts';
import { applyGrowth, type GrowthReport } from '../grow/gradient-growth.ts';
import { iterativePrune, retrainFor, type IterativePruneArgs, type PruneReport } from '../prune/iterative.ts';
import { cloneModel } from '../serialize/clone.ts';
import { restoreSnapshot, takeSnapshot } from '../prune/snapshot.ts';
import type { UpdateConfig } from './config.ts';
import * as tf from '../tf.ts';

export type StrategyName = 'ours' | 'tfs' | 'nft';

/** Data of one update: the new samples, everything so far (new included), and validation. */
export interface UpdateData<D extends { n: number }> {
  newData: D;
  allData: D;
  validation: D;
  /** Number of classes seen so far (grows the output layer when larger than the model's). */
  numClasses: number;
}

/** What a strategy carries from one update to the next. */
export interface StrategyState {
  /** The served (pruned) model. */
  model: MaskedModel;
  /** NFT's dense model, fine-tuned each update. */
  dense?: MaskedModel;
}

export interface UpdateResult {
  strategy: StrategyName;
  state: StrategyState;
  cost: CostSummary;
  growth: GrowthReport[];
  prune: PruneReport;
  nonRecoverable?: PruneReport;
  /**
   * The non-recoverably pruned copy of the served model (when configured): post-processing
   * only, never carried into the next update. The caller disposes it.
   */
  compact?: MaskedModel;
  /** Validation error after training, before pruning. */
  prePruneError: number;
  /** Validation error of the served (recoverably pruned) model. */
  validationError: number;
}

export interface UpdateArgs<D extends { n: number }> {
  strategy: StrategyName;
  /** The previous state (null for the first model). Its models are consumed. */
  previous: StrategyState | null;
  spec: ModelSpec;
  task: Task<D>;
  data: UpdateData<D>;
  config: UpdateConfig;
  hooks?: TrainerHooks;
  /** Called with the trained model before pruning (experiments measure the dense model's test error). */
  beforePrune?: (model: MaskedModel) => void;
}

function trainerFor<D extends { n: number }>(model: MaskedModel, args: UpdateArgs<D>, cost: CostLedger, lr?: number): Trainer<D> {
  const { config } = args;
  return new Trainer({
    model, task: args.task, batchSize: config.batchSize, seed: config.seed, cost, hooks: args.hooks, augment: config.augment,
    optimizer: { ...config.optimizer, learningRate: lr ?? config.optimizer.learningRate },
  });
}

/** Where a growth phase sits in a longer learning-rate schedule (an update's E1 + E2 epochs anneal as one). */
export interface PhaseSpan {
  offset: number;
  total: number;
}

/**
 * Growth phase (section 4.2): a growth step every `growthInterval` epochs, interleaved with training.
 * `span` places the phase in a longer learning-rate schedule; `afterEpoch` sees the model after
 * each epoch (experiments record a learning curve).
 */
export function growthPhase<D extends { n: number }>(
  trainer: Trainer<D>, data: D, epochs: number, phase: CorePhase, config: UpdateConfig,
  span: PhaseSpan = { offset: 0, total: epochs }, afterEpoch?: (epoch: number) => void,
): GrowthReport[] {
  const reports: GrowthReport[] = [];
  const base = trainer.optimizer.learningRate;
  for (let e = 0; e < epochs; e++) {
    trainer.optimizer.learningRate = scheduledRate(base, span.offset + e, span.total, config);
    if (e % config.growthInterval === 0) {
      const report = growthStep(trainer, data, phase, config);
      reports.push(report);
      trainer.progress({ phase, kind: 'grow', step: reports.length, changed: report.total });
    }
    const loss = trainer.trainEpoch(data, phase, e + 1);
    trainer.progress({ phase, kind: 'epoch', step: e + 1, steps: epochs, loss, learningRate: trainer.optimizer.learningRate });
    afterEpoch?.(e + 1);
  }
  trainer.optimizer.learningRate = base;
  return reports;
}

/** One growth step: the loss gradients on `data`, then the dormant connections above the alpha percentile grow. */
function growthStep<D extends { n: number }>(trainer: Trainer<D>, data: D, phase: string, config: UpdateConfig): GrowthReport {
  const gradients = trainer.growthGradients(data, phase);
  const report = applyGrowth(trainer.model, gradients, config.growthPercentile, trainer.optimizer.learningRate, config.growthScope);
  trainer.optimizer.syncMasks(trainer.model.params);
  return report;
}

/** An update's growth: E1 epochs on the new data, then E2 on all data, under one learning-rate schedule. */
function growUpdate<D extends { n: number }>(trainer: Trainer<D>, data: UpdateData<D>, config: UpdateConfig): GrowthReport[] {
  const total = config.newDataEpochs + config.allDataEpochs;
  return [
    ...growthPhase(trainer, data.newData, config.newDataEpochs, 'growth-new', config, { offset: 0, total }),
    ...growthPhase(trainer, data.allData, config.allDataEpochs, 'growth-all', config, { offset: config.newDataEpochs, total }),
  ];
}

/** The learning rate of epoch `e` of `epochs` under the configured schedule. */
export function scheduledRate(base: number, e: number, epochs: number, config: Pick<UpdateConfig, 'learningRateSchedule' | 'minLearningRateFactor'>): number {
  if (config.learningRateSchedule === 'constant' || epochs <= 1) return base;
  const min = base * config.minLearningRateFactor;
  return min + (base - min) * 0.5 * (1 + Math.cos((Math.PI * e) / (epochs - 1)));
}

function trainPhase<D extends { n: number }>(trainer: Trainer<D>, data: D, epochs: number, phase: CorePhase, config: UpdateConfig): void {
  const base = trainer.optimizer.learningRate;
  for (let e = 0; e < epochs; e++) {
    trainer.optimizer.learningRate = scheduledRate(base, e, epochs, config);
    const loss = trainer.trainEpoch(data, phase, e + 1);
    trainer.progress({ phase, kind: 'epoch', step: e + 1, steps: epochs, loss, learningRate: trainer.optimizer.learningRate });
  }
  trainer.optimizer.learningRate = base;
}

/**
 * Recoverable pruning of `model` in place (section 4.3), then, when configured,
 * non-recoverable pruning of a copy: the copy is post-processing only (served or
 * exported by the caller), never the model the next update grows from.
 */
function prunePhases<D extends { n: number }>(model: MaskedModel, args: UpdateArgs<D>, cost: CostLedger, parentLive?: number[], otherDraws: SampleErrors[] = []): { prune: PruneReport; nonRecoverable?: PruneReport; compact?: MaskedModel } {
  const { config, data } = args;
  const trainer = trainerFor(model, args, cost, config.pruneLearningRate);
  let prune: PruneReport;
  try {
    prune = iterativePrune(trainer, data.allData, data.validation, { ...pruneBudget(config), firstStep: backToParent(model, parentLive, config.pruneFraction), recoverable: true, rule: config.pruneRule, phase: 'prune', otherDraws });
  } finally {
    trainer.dispose();
  }
  if (!config.nonRecoverable) return { prune };
  const compact = cloneModel(model);
  const copyTrainer = trainerFor(compact, args, cost, config.pruneLearningRate);
  try {
    const nonRecoverable = nonRecoverablePrune(copyTrainer, data.allData, data.validation, config);
    return { prune, nonRecoverable, compact };
  } catch (err) {
    compact.dispose();
    throw err;
  } finally {
    copyTrainer.dispose();
  }
}

/** The pruning budget both kinds of pruning share: beta and its bounds, retraining, retries, iterations. */
function pruneBudget(config: UpdateConfig): Omit<IterativePruneArgs, 'firstStep' | 'recoverable' | 'rule' | 'phase'> {
  return {
    pruneFraction: config.pruneFraction, maxFraction: config.pruneFractionMax, minFraction: config.pruneFractionMin, retrainEpochs: config.retrainEpochs, averageRetraining: config.averageRetraining, retries: config.pruneRetries, maxIterations: config.maxPruneIterations,
    ...(config.validationResolution !== undefined && { resolution: config.validationResolution }),
    ...(config.pruneScope !== undefined && { scope: config.pruneScope }),
  };
}

/**
 * Non-recoverable pruning (section 4.3) of the trainer's model in place: pruned connections are
 * removed for good, each step kept within `nonRecoverableTolerance` of the model before it.
 */
export function nonRecoverablePrune<D extends { n: number }>(trainer: Trainer<D>, allData: D, validation: D, config: UpdateConfig): PruneReport {
  const rule = { ...config.pruneRule, tolerance: config.nonRecoverableTolerance };
  return iterativePrune(trainer, allData, validation, { ...pruneBudget(config), recoverable: false, rule, phase: 'prune-nonrecoverable' });
}

/**
 * Retrains the trained model at the pruning rate for one pruning iteration's budget, without
 * pruning: the model pruning starts from and measures its reference on. Every candidate is
 * retrained for that budget before its decision, so a reference taken at the end of the
 * annealed schedule, one draw of the iterate whose validation error may be low by chance,
 * would make retraining alone read as a loss (measured: docs/pruning.md). With
 * `referenceDraws` > 1, the same retraining is first drawn that many times less one more
 * from the trained model (other random batches, a fresh optimizer), each measured on the
 * validation set and undone: their per-sample errors, returned, join the starting model's in
 * the reference. The model pruning starts from is the same whatever the number of draws.
 */
function retrainReference<D extends { n: number }>(model: MaskedModel, args: UpdateArgs<D>, cost: CostLedger): SampleErrors[] {
  const { config, data } = args;
  // One retraining for the budget on a fresh trainer (optimizer state from zero) seeded `seed`.
  const retrain = (seed: number, measure: boolean): SampleErrors | null => {
    const trainer = trainerFor(model, { ...args, config: { ...config, seed } }, cost, config.pruneLearningRate);
    try {
      retrainFor(trainer, data.allData, config.retrainEpochs, 'prune', 0, config.averageRetraining);
      return measure ? trainer.sampleErrors(data.validation, 'prune') : null;
    } finally {
      trainer.dispose();
    }
  };
  const draws: SampleErrors[] = [];
  // Each extra draw on its own batches, measured, then undone.
  for (let d = 1; d < config.referenceDraws; d++) {
    const trained = takeSnapshot(model);
    try {
      const errors = retrain(config.seed + EXTRA_DRAW_SEED_STEP * d, true);
      if (errors) draws.push(errors);
      restoreSnapshot(model, trained);
    } finally {
      trained.dispose();
    }
  }
  // The model pruning starts from: the same retraining as with one draw.
  retrain(config.seed, false);
  return draws;
}

/** Seed offset of the reference's extra draws (any number that no other seed of an update uses). */
const EXTRA_DRAW_SEED_STEP = 7919;

/**
 * The first pruning step of an update: each kernel straight back to its parent's live
 * count (what growth added, in one step), when that is more than beta anywhere;
 * undefined otherwise (pruning starts at beta).
 */
function backToParent(model: MaskedModel, parentLive: number[] | undefined, beta: number): number[] | undefined {
  if (!parentLive) return undefined;
  const step = model.kernelLive().map((live, i) => (live > 0 ? Math.max(0, 1 - (parentLive[i] ?? live) / live) : 0));
  return step.some((f) => f > beta) ? step : undefined;
}

/** Makes the model's output layer as wide as the classes seen so far. */
function fitClasses(model: MaskedModel, numClasses: number, denseHead: boolean): void {
  const extra = numClasses - model.numClasses;
  if (extra <= 0) return;
  model.addClasses(extra);
  if (denseHead) model.head.kernel.setMask(tf.onesLike(model.head.kernel.mask));
}

/** Runs one update with the chosen strategy. */
export function runUpdate<D extends { n: number }>(args: UpdateArgs<D>): UpdateResult {
  const { config, data, previous, strategy } = args;
  const cost = new CostLedger();
  const spec: ModelSpec = { ...args.spec, numClasses: Math.max(args.spec.numClasses, data.numClasses), seed: config.seed };
  let growth: GrowthReport[] = [];
  let served: MaskedModel;
  let dense: MaskedModel | undefined;
  // The parent's live connections per kernel (ours, after its first model).
  let parentLive: number[] | undefined;

  if (strategy === 'ours') {
    const first = previous === null;
    served = first ? createModel(spec) : previous.model;
    if (first && config.initialDensity < 1) sparsify(served, config.initialDensity, config.seed);
    fitClasses(served, spec.numClasses, false);
    if (!first) parentLive = served.kernelLive();
    const trainer = trainerFor(served, args, cost);
    try {
      growth = first
        ? growthPhase(trainer, data.allData, config.trainEpochs, 'growth-all', config)
        : growUpdate(trainer, data, config);
    } finally {
      trainer.dispose();
    }
  } else {
    const base = strategy === 'nft' && previous?.dense ? previous.dense : createModel(spec);
    if (strategy === 'nft' && previous) previous.model.dispose();
    if (strategy === 'tfs' && previous) {
      previous.model.dispose();
      previous.dense?.dispose();
    }
    fitClasses(base, spec.numClasses, true);
    const trainer = trainerFor(base, args, cost);
    try {
      trainPhase(trainer, data.allData, config.trainEpochs, 'train', config);
    } finally {
      trainer.dispose();
    }
    if (strategy === 'nft') {
      dense = base;
      served = cloneModel(base);
    } else {
      served = base;
    }
  }
  const otherDraws = config.retrainReference ? retrainReference(served, args, cost) : [];
  args.beforePrune?.(served);
  const { prune, nonRecoverable, compact } = prunePhases(served, args, cost, parentLive, otherDraws);
  return {
    strategy, state: { model: served, dense }, cost: cost.summary(data.allData.n), growth, prune, nonRecoverable, compact,
    // Pruning measures the model it starts from once, as its reference.
    prePruneError: prune.baselineError, validationError: prune.finalError,
  };
}

/** Keeps a seeded random `density` fraction of every kernel (the sparse seed network of the first model). */
function sparsify(model: MaskedModel, density: number, seed: number): void {
  model.kernels.forEach((k, i) => {
    const mask = tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', seed + 101 * (i + 1)).less(density).toFloat());
    k.setMask(mask);
  });
}
