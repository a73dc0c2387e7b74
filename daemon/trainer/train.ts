/**
 * One update, as the trainer child runs it (also callable in-process by tests):
 *
 *   read the data (store, read-only) -> load the champion (registry)
 *   -> measure the champion on validation and test (before training changes it)
 *   -> grow and prune (core/update, strategy `ours`, paper section 4)
 *   -> measure the candidate on the same samples
 *   -> publish it to the registry as a `candidate` (staging dir, renamed into place)
 *
 * The gate's decision and the promotion are the parent's (daemon/trainer/updater.ts).
 */
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { BonsaiError } from '../../core/errors.ts';
import { affineDistortion } from '../../core/data/augment.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import type { MaskedModel, ModelSpec } from '../../core/models/model.ts';
import { loadModel, saveModel } from '../../core/serialize/index.ts';
import { classificationTask } from '../../core/train/task.ts';
import { runUpdate } from '../../core/update/strategies.ts';
import { openStore } from '../../pipelines/store/index.ts';
import { buildDriftReference } from '../metrics/drift.ts';
import { openRegistry } from '../registry/index.ts';
import { validationError } from '../gate.ts';
import { readUpdateData } from './data.ts';
import type { TrainJob, TrainProgress, TrainResult } from './protocol.ts';

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

/** Trains, measures and publishes one candidate; see the file comment. */
export async function trainCandidate(job: TrainJob, hooks: TrainHooks = {}): Promise<TrainResult> {
  const progress = (p: TrainProgress): void => hooks.onProgress?.(p);
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  progress({ phase: 'load', kind: 'phase' });
  const store = openStore(join(job.stateDir, 'store.db'), { readonly: true });
  let data;
  try {
    data = readUpdateData(store, job.upToSeq, job.model.inputShape);
  } finally {
    store.close();
  }
  if (data.allData.n === 0) {
    throw new BonsaiError('BONSAI_DAEMON_NO_TRAINING_DATA', `no training samples of shape [${job.model.inputShape.join(', ')}] up to arrival ${job.upToSeq} (${data.skipped} skipped)`,
      { upToSeq: job.upToSeq, inputShape: job.model.inputShape, skipped: data.skipped });
  }
  const registry = await openRegistry(join(job.stateDir, 'models'));
  let champion: MaskedModel | null = null;
  if (job.champion !== null) {
    const v = await registry.get(job.champion);
    champion = (await loadModel(v.dir)).model;
  }
  timings.load = seconds(t0);

  // Without validation samples (tiny stores) the gate compares on the training data.
  const validation: Dataset = data.validation.n > 0 ? data.validation : data.allData;
  const numClasses = data.labels.length;
  const t1 = performance.now();
  const championError = champion ? validationError(champion, validation) : null;
  const championTestError = champion && data.test.n > 0 ? validationError(champion, data.test) : null;
  timings.evaluate = seconds(t1);

  const spec: ModelSpec = champion
    ? { ...champion.spec, numClasses: Math.max(champion.spec.numClasses, numClasses) }
    : { arch: job.model.arch, inputShape: [...job.model.inputShape], numClasses, options: job.model.options };
  // Each update shuffles differently; the sequence stays reproducible from the config's seed.
  const config = { ...job.update, seed: job.update.seed + (job.champion ?? 0), newDataEpochs: data.newData.n > 0 ? job.update.newDataEpochs : 0 };
  let model: MaskedModel;
  let result;
  let lastPhase = '';
  try {
    result = runUpdate({
      strategy: 'ours', previous: champion ? { model: champion } : null, spec,
      task: classificationTask({ augment: augmentFor(job) }),
      data: { newData: data.newData.n > 0 ? data.newData : data.allData, allData: data.allData, validation, numClasses },
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
    model = result.state.model;
  } catch (err) {
    champion?.dispose();
    throw err;
  }
  try {
    for (const [phase, cost] of Object.entries(result.cost.phases)) timings[phase] = (timings[phase] ?? 0) + cost.wallSeconds;
    progress({ phase: 'evaluate', kind: 'phase' });
    const t2 = performance.now();
    const candidateError = validationError(model, validation);
    const candidateTestError = data.test.n > 0 ? validationError(model, data.test) : null;
    timings.evaluate += seconds(t2);

    const size = job.model.inputShape.reduce((a, b) => a * b, 1);
    const driftReference = buildDriftReference({ batch: data.allData.x, n: data.allData.n, sampleSize: size }, data.allData.y, numClasses, job.driftBins);
    const layers = model.layerCounts();
    const liveParams = model.liveParams();
    const denseParams = model.denseParams();
    const density = model.density();
    const sizes = { newData: data.newData.n, allData: data.allData.n, validation: data.validation.n, test: data.test.n, skipped: data.skipped };

    progress({ phase: 'publish', kind: 'phase' });
    const t3 = performance.now();
    const metrics: Record<string, number> = {
      validationError: candidateError, validationAccuracy: 1 - candidateError, prePruneError: result.prePruneError,
      validationSamples: validation.n, newSamples: sizes.newData, allSamples: sizes.allData, density, liveParams, denseParams,
    };
    if (championError !== null) metrics.championValidationError = championError;
    if (candidateTestError !== null) metrics.testError = candidateTestError;
    if (championTestError !== null) metrics.championTestError = championTestError;
    const publishTimings = { ...timings, publish: 0 };
    const version = await registry.publish(
      async (dir) => {
        await saveModel(model, dir, { parent: job.champion, samplesSeen: data.allData.n, labels: data.labels, strategy: 'ours', updateId: job.id });
      },
      {
        parent: job.champion,
        samplesSeen: data.allData.n,
        metrics,
        parameters: Object.fromEntries(layers.map((l) => [l.layer, { live: l.live, total: l.total }])),
        cost: { sampleEpochs: result.cost.sampleEpochs, epochs: result.cost.epochs, flops: result.cost.flops, wallSeconds: result.cost.wallSeconds },
        backend: tf.getBackend(),
        timings: publishTimings,
        extra: {
          updateId: job.id, trigger: job.trigger, upToSeq: job.upToSeq, arch: spec.arch, inputShape: spec.inputShape, modality: job.modality,
          labels: data.labels, sizes, driftReference, costPhases: result.cost.phases,
          grown: result.growth.reduce((n, g) => n + g.total, 0), pruneIterations: result.prune.iterations.length,
        },
      },
    );
    timings.publish = seconds(t3);
    return {
      version, parent: job.champion, candidateError, championError, candidateTestError, championTestError, sizes, labels: data.labels,
      liveParams, denseParams, density, layers, cost: result.cost, timings, backend: tf.getBackend(),
    };
  } finally {
    model.dispose();
  }
}
