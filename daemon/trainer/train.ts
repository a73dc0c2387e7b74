/**
 * One update, as the trainer child runs it (also callable in-process by tests):
 *
 *   load the champion (registry) -> read the data (store, read-only)
 *   -> measure the champion on validation and test (before training changes it)
 *   -> grow and prune (core/update, strategy `ours`, paper section 4)
 *   -> measure the candidate on the same samples
 *   -> publish it to the registry as a `candidate` (staging dir, renamed into place)
 *
 * The task follows the architecture (daemon/speech.ts): classification of
 * fixed-shape samples (error rate), or speech recognition of variable-length
 * recordings (CTC, word error rate) for ds2. The champion's architecture wins
 * over the configured one, as its spec does. The gate's decision and the
 * promotion are the parent's (daemon/trainer/updater.ts).
 */
import { join } from 'node:path';
import {
  tf, affineDistortion, type Dataset, type MaskedModel, type ModelSpec, loadModel, saveModel, type SpeechDataset, classErrors, classificationTask, type SampleErrors, type Task, pairedEvidence, type PairedEvidence, type UpdateConfig, runUpdate, type UpdateResult, type PruneReport,
} from '../../core/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { buildDriftReference, type DriftReference } from '../metrics/drift.ts';
import { openRegistry, problemsOf, type ModelRegistry } from '../registry/index.ts';
import { validationError } from './gate.ts';
import { SPEECH_ALPHABET, speechLabels, speechTaskFor, taskKindOf, timeStrideOf, type TaskKind } from '../speech.ts';
import { readUpdateData } from './data.ts';
import { readSpeechUpdateData } from './speech-data.ts';
import { selectionReport, type DataSelection } from './selection.ts';
import { classBreakdown, type ClassBreakdown } from './classes.ts';
import type { DataSizes, PruneSummary, TrainJob, TrainProgress, TrainResult } from './protocol.ts';

/**
 * Loss (error fraction) the validation set must resolve at the trained model's measured
 * error (core/prune/decision.ts `validationAdequacy`): on fewer samples, pruning runs
 * conservatively (core/prune/iterative.ts `conservativeArgs`) and the daemon says so (log
 * `update.validation_small`, metric `bonsai_validation_adequate`). Judged after training,
 * on the model pruning starts from, so the first update too is judged on a measured error.
 */
export const VALIDATION_RESOLUTION = 0.01;

/** Callbacks of `trainCandidate`. */
export interface TrainHooks {
  onProgress?: (progress: TrainProgress) => void;
}

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/** Image batches [B, H, W, C] get seeded affine distortions (LeCun et al. 1998); other inputs none. */
function augmentFor(job: TrainJob): ((x: tf.Tensor, seed: number) => tf.Tensor) | undefined {
  if (!job.update.augment || job.modality !== 'image' || job.model.inputShape.length !== 3) return undefined;
  return (x, seed) => affineDistortion({ seed }).apply(x as tf.Tensor4D);
}

/** One task's view of an update: its data, loss and error, and what is saved with the model. */
interface UpdateTask<D extends { n: number }> {
  kind: TaskKind;
  newData: D;
  allData: D;
  validation: D;
  test: D;
  skipped: number;
  selection: DataSelection | null;
  task: Task<D>;
  /** Names of the output units, saved with the model. */
  labels: string[];
  numClasses: number;
  /** Error rate of a model on `data`: classification error, or WER. */
  errorRate(model: MaskedModel, data: D): number;
  /** Per-sample errors of a model on `data` (the paired decision's input). */
  sampleErrors(model: MaskedModel, data: D): SampleErrors;
  /** Spec of the first model (no champion). */
  firstSpec: ModelSpec;
  /** Reference of the drift scores; none for speech (normalised MFCCs have the same summaries everywhere). */
  driftReference(): DriftReference | undefined;
  /** Saved in the model's lineage and the manifest's `extra`. */
  extra: Record<string, unknown>;
}

/**
 * Why an update read no training sample when `algorithm.trainingDataMegabytes` is the cause: the
 * budget holds none of the training samples there are (a budget below one sample's features).
 */
function budgetTooSmall(selection: DataSelection | null): string {
  if (selection === null || selection.train.kept > 0 || selection.train.of === 0) return '';
  return `; algorithm.trainingDataMegabytes (${selection.budgetBytes} bytes) holds none of the ${selection.train.of} training samples: raise it, or set it to null`;
}

/** Fixed-shape samples with class labels (LeNets, ResNet-18). */
function classificationUpdate(store: SampleStore, job: TrainJob): UpdateTask<Dataset> {
  const data = readUpdateData(store, job.upToSeq, job.model.inputShape, job.dataBudgetBytes ?? null);
  if (data.allData.n === 0) {
    throw new BonsaiError('BONSAI_DAEMON_NO_TRAINING_DATA', `no training samples of shape [${job.model.inputShape.join(', ')}] up to arrival ${job.upToSeq} (${data.skipped} skipped)${budgetTooSmall(data.selection)}`,
      { upToSeq: job.upToSeq, inputShape: job.model.inputShape, skipped: data.skipped, budgetBytes: data.selection?.budgetBytes ?? null });
  }
  const numClasses = data.labels.length;
  if (numClasses < 2) {
    throw new BonsaiError('BONSAI_DAEMON_TOO_FEW_CLASSES', `a classifier needs samples of at least 2 labels, the store has ${numClasses} (${data.labels.map((l) => JSON.stringify(l)).join(', ')}): drop files of another label into inbox/<label>/`,
      { labels: data.labels });
  }
  const size = job.model.inputShape.reduce((a, b) => a * b, 1);
  return {
    kind: 'classification', ...data,
    task: classificationTask({ augment: augmentFor(job) }),
    numClasses,
    errorRate: (model, d) => validationError(model, d),
    sampleErrors: (model, d) => classErrors(model, d, 256),
    firstSpec: { arch: job.model.arch, inputShape: [...job.model.inputShape], numClasses, options: job.model.options },
    driftReference: () => buildDriftReference({ batch: data.allData.x, n: data.allData.n, sampleSize: size }, data.allData.y, numClasses, job.driftBins),
    extra: {},
  };
}

/** Mean frames per utterance: the nominal time length of a speech model's spec (its FLOPs count). */
function meanFrames(data: SpeechDataset): number {
  return Math.max(1, Math.round(data.frames.reduce((a, b) => a + b, 0) / Math.max(data.n, 1)));
}

/** Variable-length recordings with transcripts (ds2): CTC, WER of beam search over the training words. */
function speechUpdate(store: SampleStore, job: TrainJob, arch: string, champion: MaskedModel | null): UpdateTask<SpeechDataset> {
  const shape = champion?.spec.inputShape ?? job.model.inputShape;
  const width = shape[shape.length - 1];
  const stride = timeStrideOf(arch);
  const data = readSpeechUpdateData(store, job.upToSeq, width, stride, job.dataBudgetBytes ?? null);
  if (data.allData.n === 0) {
    const s = data.skips;
    throw new BonsaiError('BONSAI_DAEMON_NO_TRAINING_DATA',
      `no training recordings of [frames, ${width}] MFCC features with a usable transcript up to arrival ${job.upToSeq} (${data.skipped} skipped: ${s.shape} of another shape, ${s.label} whose label is not words of the alphabet (name folders with words, e.g. inbox/seven/, or add <file>.txt transcripts), ${s.tooShort} with a transcript too long for the recording)${budgetTooSmall(data.selection)}`,
      { upToSeq: job.upToSeq, width, skipped: data.skipped, skips: { ...s }, budgetBytes: data.selection?.budgetBytes ?? null });
  }
  const task = speechTaskFor(arch, data.vocabulary, job.update.augment);
  const numClasses = SPEECH_ALPHABET.size;
  return {
    kind: 'speech', ...data, task, numClasses,
    labels: speechLabels(),
    errorRate: (model, d) => task.errorRate(model, d, 64),
    sampleErrors: (model, d) => task.sampleErrors(model, d, 64),
    firstSpec: { arch, inputShape: [meanFrames(data.allData), width], numClasses, options: job.model.options },
    driftReference: () => undefined,
    extra: { task: 'speech', vocabulary: data.vocabulary },
  };
}

/** Trains, measures and publishes one candidate; see the file comment. */
export async function trainCandidate(job: TrainJob, hooks: TrainHooks = {}): Promise<TrainResult> {
  const progress = (p: TrainProgress): void => hooks.onProgress?.(p);
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  progress({ phase: 'load', kind: 'phase' });
  const registry = await openRegistry(join(job.stateDir, 'models'));
  let champion: MaskedModel | null = null;
  if (job.champion !== null) {
    const v = await registry.get(job.champion);
    const check = await registry.verify(job.champion);
    if (!check.ok) throw new BonsaiError('BONSAI_DAEMON_MODEL_CORRUPT', `parent version ${job.champion} failed checksum verification (${problemsOf(check).join(', ')}); an update never grows from it`, { version: job.champion, problems: problemsOf(check) });
    champion = (await loadModel(v.dir)).model;
  }
  const arch = champion?.spec.arch ?? job.model.arch;
  let update: UpdateTask<Dataset> | UpdateTask<SpeechDataset>;
  try {
    const store = openStore(join(job.stateDir, 'store.db'), { readonly: true });
    try {
      update = taskKindOf(arch) === 'speech' ? speechUpdate(store, job, arch, champion) : classificationUpdate(store, job);
    } finally {
      store.close();
    }
  } catch (err) {
    champion?.dispose();
    throw err;
  }
  timings.load = seconds(t0);
  return update.kind === 'speech'
    ? trainWith(job, update as UpdateTask<SpeechDataset>, champion, registry, timings, progress)
    : trainWith(job, update as UpdateTask<Dataset>, champion, registry, timings, progress);
}

async function trainWith<D extends { n: number }>(job: TrainJob, data: UpdateTask<D>, champion: MaskedModel | null, registry: ModelRegistry,
  timings: Record<string, number>, progress: (p: TrainProgress) => void): Promise<TrainResult> {
  // Without validation samples (a manual update on a tiny store, or gate.minValidationSamples 0) nothing held
  // out can judge a loss: the update trains but does not prune, and the gate compares on the training data and
  // says so (gate.ts samplesOf); the adequacy below reports 0 samples (update.validation_small).
  const heldOut = data.validation.n > 0;
  const validation: D = heldOut ? data.validation : data.allData;
  const t1 = performance.now();
  const before = disposingOnError(champion, () => measureChampion(data, champion, validation));
  timings.evaluate = seconds(t1);

  const spec: ModelSpec = champion
    ? { ...champion.spec, numClasses: Math.max(champion.spec.numClasses, data.numClasses) }
    : data.firstSpec;
  const config: UpdateConfig = { ...updateConfigFor(job, data), ...(!heldOut && { maxPruneIterations: 0 }) };
  const result = disposingOnError(champion, () => growAndPrune(data, champion, spec, validation, config, progress));
  const model = result.state.model;
  const measured = result.prune.adequacy ?? { samples: validation.n, error: result.prePruneError, adequate: true, minSamples: 0 };
  const adequacy = heldOut ? measured : { ...measured, samples: 0, adequate: false };
  try {
    for (const [phase, cost] of Object.entries(result.cost.phases)) timings[phase] = (timings[phase] ?? 0) + cost.wallSeconds;
    progress({ phase: 'evaluate', kind: 'phase' });
    const t2 = performance.now();
    const after = measureCandidate(data, model, validation, before.errors);
    timings.evaluate += seconds(t2);

    const summary = summarize(data, model);
    progress({ phase: 'publish', kind: 'phase' });
    const t3 = performance.now();
    const metrics = candidateMetrics(result, summary, before, after);
    const version = await publishCandidate(registry, job, data, spec, result, { metrics, summary, timings: { ...timings, publish: 0 } });
    timings.publish = seconds(t3);
    return {
      version, parent: job.champion, candidateError: after.error, championError: before.error, gateEvidence: after.gateEvidence, validationAdequacy: adequacy,
      candidateTestError: after.testError, championTestError: before.testError, sizes: summary.sizes, labels: data.labels, classes: after.classes,
      liveParams: summary.liveParams, denseParams: summary.denseParams, density: summary.density, layers: summary.layers, cost: result.cost, timings, backend: tf.getBackend(),
      prune: pruneSummary(result.prune),
    };
  } finally {
    model.dispose();
    result.compact?.dispose();
  }
}

/** Runs `fn`; if it throws, frees the champion first. */
function disposingOnError<T>(champion: MaskedModel | null, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    champion?.dispose();
    throw err;
  }
}

/** The champion on the validation samples (per sample, for the gate) and on the test split, before training changes it. */
function measureChampion<D extends { n: number }>(data: UpdateTask<D>, champion: MaskedModel | null, validation: D): { errors: SampleErrors | null; error: number | null; testError: number | null } {
  const errors = champion ? data.sampleErrors(champion, validation) : null;
  return { errors, error: errors?.rate ?? null, testError: champion && data.test.n > 0 ? data.errorRate(champion, data.test) : null };
}

/**
 * The update's settings: pruning judges its validation set's adequacy; no new-data epochs
 * without new data. Each update shuffles differently; the sequence stays reproducible from
 * the config's seed.
 */
function updateConfigFor<D extends { n: number }>(job: TrainJob, data: UpdateTask<D>): UpdateConfig {
  return {
    ...job.update, validationResolution: VALIDATION_RESOLUTION, seed: job.update.seed + (job.champion ?? 0),
    newDataEpochs: data.newData.n > 0 ? job.update.newDataEpochs : 0,
  };
}

/** Grow-and-prune (strategy `ours`) from the champion, reporting each phase as it starts and each step. */
function growAndPrune<D extends { n: number }>(data: UpdateTask<D>, champion: MaskedModel | null, spec: ModelSpec, validation: D, config: UpdateConfig,
  progress: (p: TrainProgress) => void): UpdateResult {
  let lastPhase = '';
  return runUpdate({
    strategy: 'ours', previous: champion ? { model: champion } : null, spec,
    task: data.task,
    data: { newData: data.newData.n > 0 ? data.newData : data.allData, allData: data.allData, validation, numClasses: data.numClasses },
    config,
    hooks: {
      onProgress: (e) => {
        if (e.phase !== lastPhase) {
          lastPhase = e.phase;
          progress({ phase: e.phase, kind: 'phase', density: e.density });
        }
        progress({ phase: e.phase, kind: e.kind, step: e.step, steps: e.steps, loss: e.loss, density: e.density, errorRate: e.errorRate, changed: e.changed });
      },
    },
  });
}

/** The candidate on the champion's validation samples (paired with the champion's errors) and test split. */
function measureCandidate<D extends { n: number }>(data: UpdateTask<D>, model: MaskedModel, validation: D, championErrors: SampleErrors | null): { error: number; gateEvidence: PairedEvidence | null; testError: number | null; classes: ClassBreakdown | null } {
  const candidateErrors = data.sampleErrors(model, validation);
  const gateEvidence = championErrors ? pairedEvidence(championErrors.errors, candidateErrors.errors, championErrors.units) : null;
  const truth = (validation as { y?: Int32Array }).y;
  const classes = data.kind === 'classification' && truth ? classBreakdown(candidateErrors.errors, truth, data.labels) : null;
  return { error: candidateErrors.rate, gateEvidence, testError: data.test.n > 0 ? data.errorRate(model, data.test) : null, classes };
}

/** The candidate's size and the data it saw. */
interface CandidateSummary {
  driftReference: DriftReference | undefined;
  layers: Array<{ layer: string; live: number; total: number }>;
  liveParams: number;
  denseParams: number;
  density: number;
  sizes: DataSizes;
}

function summarize<D extends { n: number }>(data: UpdateTask<D>, model: MaskedModel): CandidateSummary {
  return {
    driftReference: data.driftReference(), layers: model.layerCounts(), liveParams: model.liveParams(), denseParams: model.denseParams(), density: model.density(),
    sizes: {
      newData: data.newData.n, allData: data.allData.n, validation: data.validation.n, test: data.test.n, skipped: data.skipped,
      ...(data.selection && { selection: selectionReport(data.selection) }),
    },
  };
}

/** The metrics of the candidate's manifest (the champion's beside them when there is one). */
function candidateMetrics(result: UpdateResult, summary: CandidateSummary,
  before: { error: number | null; testError: number | null }, after: { error: number; testError: number | null; classes: ClassBreakdown | null }): Record<string, number> {
  const metrics: Record<string, number> = {
    validationError: after.error, validationAccuracy: Math.max(0, 1 - after.error), prePruneError: result.prePruneError,
    validationSamples: summary.sizes.validation, newSamples: summary.sizes.newData, allSamples: summary.sizes.allData, density: summary.density, liveParams: summary.liveParams, denseParams: summary.denseParams,
  };
  if (before.error !== null) metrics.championValidationError = before.error;
  if (result.compact && result.nonRecoverable) {
    metrics.nonRecoverableLiveParams = result.compact.liveParams();
    metrics.nonRecoverableValidationError = result.nonRecoverable.finalError;
  }
  if (after.testError !== null) metrics.testError = after.testError;
  if (before.testError !== null) metrics.championTestError = before.testError;
  if (after.classes) {
    metrics.balancedValidationError = after.classes.balancedError;
    metrics.majorityValidationError = after.classes.majority.error;
  }
  return metrics;
}

/** Publishes the candidate (and non-recoverable pruning's copy beside it) as a registry `candidate`; returns its version. */
async function publishCandidate<D extends { n: number }>(registry: ModelRegistry, job: TrainJob, data: UpdateTask<D>, spec: ModelSpec, result: UpdateResult,
  manifest: { metrics: Record<string, number>; summary: CandidateSummary; timings: Record<string, number> }): Promise<number> {
  const { summary } = manifest;
  return registry.publish(
    async (dir) => {
      const lineage = { parent: job.champion, samplesSeen: data.allData.n, labels: data.labels, strategy: 'ours' as const, updateId: job.id, ...data.extra };
      await saveModel(result.state.model, dir, lineage);
      // Non-recoverable pruning's copy is an export beside the version, never served nor grown from.
      if (result.compact) await saveModel(result.compact, join(dir, 'nonrecoverable'), lineage);
    },
    {
      parent: job.champion,
      samplesSeen: data.allData.n,
      metrics: manifest.metrics,
      parameters: Object.fromEntries(summary.layers.map((l) => [l.layer, { live: l.live, total: l.total }])),
      cost: { sampleEpochs: result.cost.sampleEpochs, epochs: result.cost.epochs, flops: result.cost.flops, wallSeconds: result.cost.wallSeconds },
      backend: tf.getBackend(),
      timings: manifest.timings,
      extra: {
        updateId: job.id, trigger: job.trigger, upToSeq: job.upToSeq, arch: spec.arch, inputShape: spec.inputShape, modality: job.modality,
        ...(job.preprocessing && { preprocessing: job.preprocessing }),
        labels: data.labels, sizes: summary.sizes, driftReference: summary.driftReference, costPhases: result.cost.phases,
        grown: result.growth.reduce((n, g) => n + g.total, 0), pruneIterations: result.prune.iterations.length, prune: pruneSummary(result.prune),
        ...data.extra,
      },
    },
  );
}

/** The pruning phase in numbers, for the train result, the manifest and the log. */
function pruneSummary(report: PruneReport): PruneSummary {
  return { iterations: report.iterations.length, accepted: report.iterations.filter((i) => i.accepted).length, stop: report.stop, referenceError: report.baselineError, referenceDraws: report.referenceDraws };
}
