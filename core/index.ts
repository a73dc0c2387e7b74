/**
 * The public API of bonsai's grow-and-prune library (paper section 4). Every
 * room outside core/ and test/ imports core/ through this file; eslint.config.js
 * rejects deep paths, except the light modules that load no tfjs, which
 * processes without tfjs (the configuration, the ingest pipeline and its
 * workers) import directly: core/errors.ts, core/error-codes.ts,
 * core/models/options.ts and core/text/alphabet.ts. Nothing inside core/
 * imports this file (it would be a cycle).
 */

// Errors (BonsaiError and its codes; core/errors.ts itself is light).
export { BonsaiError, check } from './errors.ts';

// tfjs as bonsai loads it (tfjs-core with the chained ops), and the backend.
export * as tf from './tf.ts';
export { initBackend, backendInfo, type BackendInfo, type BackendOptions } from './backend.ts';
// The wasm kernels bonsai adds to tfjs-backend-wasm; initBackend registers them
// (loaded here without side effects, for benchmarks that compare them with the stock ones).
export { registerWasmKernels, stockWasmKernel } from './backend/register-wasm-kernels.ts';
export { byConvolution, byIm2col } from './backend/conv2d-backprop-filter.ts';

// Masked layers and serving's sparse inference.
export { MaskedParam, type MaskedParamArgs } from './sparse/masked-param.ts';
export { MaskedDense, maskedDense, type MaskedDenseArgs } from './sparse/masked-dense.ts';
export { MaskedConv2d, maskedConv2d, type MaskedConv2dArgs } from './sparse/masked-conv2d.ts';
export { BatchNorm, batchNorm, type BatchNormArgs } from './sparse/batch-norm.ts';
export type { ForwardContext, Layer } from './sparse/layer.ts';
export { compileSparseInference, SPARSE_MAX_DENSITY, type SparseInference } from './sparse/sparse-inference.ts';
export { SparseChain, sparseLayerFromMasked } from './sparse/sparse-chain.ts';
export { csrFromMasked, csrMatMul } from './sparse/csr.ts';
export { SPARSE_TRAIN_MAX_DENSITY, sparseTraining } from './train/sparse-fc.ts';

// The models and their registry (importing core/models/index.ts registers the built-in ones).
export {
  createModel, registerModel, modelInfo, registeredModels, builtinModel, LeNet300, LeNet5, ResNet18, DS2_TIME_STRIDE, registerDs2,
  type MaskedModel, type ModelSpec, type LayerCount, type Modality, type ModelOptions, type TaskKind,
} from './models/index.ts';

// Training: the optimizer, the trainer, tasks, phases and cost.
export { MaskedOptimizer, type OptimizerArgs } from './train/optimizer.ts';
export { Trainer, type TrainerArgs, type TrainerHooks, type ProgressEvent } from './train/trainer.ts';
export { backward } from './train/step.ts';
export { CORE_PHASES, PHASES, TRAINING_PHASES, UPDATE_STEPS, isPhase, type CorePhase, type Phase, type TrainingPhase } from './train/phase.ts';
export { CostLedger, TRAIN_FLOPS_FACTOR, type CostSummary, type PhaseCost } from './train/cost.ts';
export { classificationTask, classErrors, type SampleErrors, type Task, type TaskBatch } from './train/task.ts';
export {
  speechTask, makeSpeechDataset, speechBatch, subsetSpeech,
  type SpeechAugmentOptions, type SpeechDataset, type SpeechTask, type Utterance,
} from './train/speech-task.ts';

// Growth, pruning and the no-loss decision.
export { growMask, applyGrowth, percentile, type GrowthDecision, type GrowthReport } from './grow/gradient-growth.ts';
export { pruneMask, type PruneArgs, type PruneDecision } from './prune/magnitude.ts';
export { iterativePrune, pruneStep, retrainFor, type IterativePruneArgs, type PruneReport, type PruneIteration, type PruneScope } from './prune/iterative.ts';
export {
  DEFAULT_NO_LOSS_RULE, judge, noLossDecision, pairedEvidence, validationAdequacy, type NoLossRule, type PairedEvidence,
} from './prune/decision.ts';

// The update strategies (ours, TFS, NFT) and their configuration.
export {
  runUpdate, growthPhase, nonRecoverablePrune, scheduledRate,
  type StrategyName, type StrategyState, type UpdateArgs, type UpdateData, type UpdateResult,
} from './update/strategies.ts';
export {
  paperUpdateConfig, DEFAULT_LEARNING_RATES, PRUNE_FRACTION_MIN_SHARE, pruneLearningRateOf, type UpdateConfig,
} from './update/config.ts';

// Save and load.
export { cloneModel, saveModel, loadModel, serializeModel, deserializeModel, type Lineage, type ModelFile } from './serialize/index.ts';

// Data: datasets, batches, seeded randomness, augmentation.
export {
  makeDataset, concat, subset, slice, sampleSize, shuffledBatches, orderedBatches, seededRandom, permutation,
  type Dataset, type Batch,
} from './data/dataset.ts';
export { affineDistortion, type AugmentArgs } from './data/augment.ts';

// Speech: CTC, decoding, error rates.
export { ctcLoss, ctcMinInputLength } from './losses/ctc.ts';
export { createLexicon } from './decode/lexicon.ts';
export { wordErrorRate, characterErrorRate } from './metrics/error-rates.ts';
