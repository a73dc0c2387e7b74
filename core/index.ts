/**
 * The public API of bonsai's grow-and-prune library (paper section 4).
 */
export { BonsaiError, check } from './errors.ts';
export { initBackend, backendInfo, type BackendInfo, type BackendOptions } from './backend.ts';
export { MaskedParam, type MaskedParamArgs } from './sparse/maskedParam.ts';
export { MaskedDense, maskedDense, type MaskedDenseArgs } from './sparse/maskedDense.ts';
export { MaskedConv2d, maskedConv2d, type MaskedConv2dArgs } from './sparse/maskedConv2d.ts';
export { BatchNorm, batchNorm, type BatchNormArgs } from './sparse/batchNorm.ts';
export type { ForwardContext, Layer } from './sparse/layer.ts';
export { createModel, registerModel, LeNet300, LeNet5, ResNet18, type MaskedModel, type ModelSpec, type LayerCount } from './models/index.ts';
export { MaskedOptimizer, type OptimizerArgs } from './train/optimizer.ts';
export { Trainer, type TrainerArgs, type TrainerHooks, type ProgressEvent } from './train/trainer.ts';
export { CORE_PHASES, PHASES, TRAINING_PHASES, UPDATE_STEPS, isPhase, type CorePhase, type Phase, type TrainingPhase } from './train/phase.ts';
export { CostLedger, type CostSummary, type PhaseCost } from './train/cost.ts';
export { classificationTask, type Task, type TaskBatch } from './train/task.ts';
export { growMask, applyGrowth, percentile, type GrowthDecision, type GrowthReport } from './grow/gradientGrowth.ts';
export { pruneMask, type PruneArgs, type PruneDecision } from './prune/magnitude.ts';
export { iterativePrune, type IterativePruneArgs, type PruneReport, type PruneIteration } from './prune/iterative.ts';
export { runUpdate, growthPhase, type StrategyName, type StrategyState, type UpdateArgs, type UpdateData, type UpdateResult } from './update/strategies.ts';
export { paperUpdateConfig, type UpdateConfig } from './update/config.ts';
export { cloneModel, saveModel, loadModel, serializeModel, deserializeModel, type Lineage, type ModelFile } from './serialize/index.ts';
export { makeDataset, concat, subset, shuffledBatches, orderedBatches, type Dataset, type Batch } from './data/dataset.ts';
export { affineDistortion, type AugmentArgs } from './data/augment.ts';
export { ctcLoss } from './losses/ctc.ts';
export { wordErrorRate, characterErrorRate } from './metrics/errorRates.ts';
