/**
 * Loads a registry version into a `LoadedModel` the model holder can serve:
 * verify the artifacts' checksums (never serve a half-written or altered
 * version), rebuild the network from `model.json`, `weights.bin` and
 * `masks.bin`, and read the labels and the drift reference from the lineage and
 * the manifest. A speech model (ds2, daemon/speech.ts) is served as recordings
 * in, transcripts out, decoded over the vocabulary saved with it. A classifier
 * whose fully connected layers are sparse enough answers through a sparse plan
 * (core/sparse/sparse-inference.ts) compiled at load and disposed with it.
 */
import { tf, type MaskedModel, loadModel, type Lineage, compileSparseInference, type SparseInference } from '../../core/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import type { Modality, Preprocessing } from '../../pipelines/types.ts';
import type { DriftReference } from '../metrics/drift.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { LoadedModel, ModelLoader } from './types.ts';
import { speechLabels, speechTaskFor, taskKindOf } from '../speech.ts';

/** Utterances decoded per forward pass. */
const SPEECH_BATCH = 16;

function driftReferenceOf(extra: Record<string, unknown> | undefined): DriftReference | undefined {
  const ref = extra?.driftReference as DriftReference | undefined;
  if (!ref || typeof ref !== 'object' || !Array.isArray(ref.classes) || typeof ref.inputs !== 'object') return undefined;
  return ref;
}

/** Options of `registryLoader`. */
export interface LoaderOptions {
  /** Serve sparse-enough fully connected layers on CSR kernels (config `server.sparseInference`; default true). */
  sparse?: boolean;
}

/** A loader reading versions from `registry`; `modality` is used when a manifest does not say. */
export function registryLoader(registry: ModelRegistry, modality: Modality, options: LoaderOptions = {}): ModelLoader {
  return async (version) => {
    const v = await registry.get(version);
    const check = await registry.verify(version);
    if (!check.ok) {
      throw new BonsaiError('BONSAI_DAEMON_MODEL_CORRUPT', `model version ${version} failed checksum verification (${[...check.mismatched.map((m) => m.path), ...check.missing, ...check.unexpected].join(', ')})`,
        { version, mismatched: check.mismatched.map((m) => m.path), missing: [...check.missing], unexpected: [...check.unexpected] });
    }
    const { model, file } = await loadModel(v.dir);
    const extra = v.manifest.extra as Record<string, unknown> | undefined;
    const modelModality = (extra?.modality as Modality | undefined) ?? modality;
    const preprocessing = preprocessingOfManifest(extra);
    if (taskKindOf(model.spec.arch) === 'speech') return { ...speechModel(version, model, file.lineage, extra, modelModality), ...(preprocessing && { preprocessing }) };
    const labels = (file.lineage.labels ?? (extra?.labels as string[] | undefined) ?? []).slice(0, model.numClasses);
    const inputShape = [...model.spec.inputShape];
    // W*M fixed once, for the sparse plan's convolutions and the tfjs forward pass alike: a
    // served version never trains, and on wasm the same filter tensors keep XNNPACK's
    // packed copies between calls (ResNet-18 at batch 1: bench/results/throughput.md).
    const snapshot = model.snapshotWeights();
    const sparse: SparseInference | null = options.sparse === false ? null : compileSparseInference(model, { weights: snapshot });
    const loaded: LoadedModel = {
      version,
      labels,
      inputShape,
      modality: modelModality,
      ...(preprocessing && { preprocessing }),
      driftReference: driftReferenceOf(extra),
      async predict(batch: Float32Array, n: number): Promise<Float32Array> {
        // The output layer may be wider than the labels known (a class added later); keep the labelled columns.
        if (sparse !== null && n <= sparse.maxBatch) return labelledColumns(sparse.probabilities(batch, n), n, labels.length);
        const probs = tf.tidy(() => model.predict(tf.tensor(batch, [n, ...inputShape], 'float32'), snapshot));
        try {
          return labelledColumns((await probs.data()) as Float32Array, n, labels.length);
        } finally {
          probs.dispose();
        }
      },
      async warmUp(): Promise<void> {
        const size = inputShape.reduce((a, b) => a * b, 1);
        for (const n of [1, 8]) await loaded.predict(new Float32Array(n * size), n);
      },
      dispose(): void {
        sparse?.dispose();
        snapshot.dispose();
        model.dispose();
      },
    };
    return loaded;
  };
}

/** The first `labelled` of each row's columns (all of them when the rows are that wide). */
function labelledColumns(all: Float32Array, n: number, labelled: number): Float32Array {
  const k = all.length / n;
  if (k === labelled) return all;
  const out = new Float32Array(n * labelled);
  for (let i = 0; i < n; i++) out.set(all.subarray(i * k, i * k + labelled), i * labelled);
  return out;
}

/** The words a speech model decodes to, saved with it (lineage, else the manifest). */
function vocabularyOf(lineage: Lineage, extra: Record<string, unknown> | undefined): string[] {
  const raw = lineage.vocabulary ?? extra?.vocabulary;
  return Array.isArray(raw) ? raw.filter((w): w is string => typeof w === 'string' && w !== '') : [];
}

/**
 * A speech model (ds2) as the holder serves it: recordings in, transcripts out,
 * decoded by prefix beam search over the vocabulary it was trained on.
 */
function speechModel(version: number, model: MaskedModel, lineage: Lineage, extra: Record<string, unknown> | undefined, modality: Modality): LoadedModel {
  const shape = model.spec.inputShape;
  const width = shape[shape.length - 1];
  const task = speechTaskFor(model.spec.arch, vocabularyOf(lineage, extra));
  const labels = Array.isArray(lineage.labels) && lineage.labels.length === model.numClasses ? lineage.labels : speechLabels();
  const transcribe = async (utterances: readonly Float32Array[]): Promise<string[]> => {
    utterances.forEach((u, i) => {
      if (u.length === 0 || u.length % width !== 0) {
        throw new BonsaiError('BONSAI_DAEMON_SPEECH_INPUT', `utterance ${i} has ${u.length} values, not a positive number of frames of ${width} features`, { index: i, values: u.length, width });
      }
    });
    return task.transcribe(model, utterances, width, SPEECH_BATCH);
  };
  return {
    version,
    labels,
    inputShape: [width],
    modality,
    transcribe,
    async predict(): Promise<Float32Array> {
      throw new BonsaiError('BONSAI_DAEMON_SPEECH_MODEL', `model version ${version} (${model.spec.arch}) is a speech model: it answers transcripts, not class scores`, { version, arch: model.spec.arch });
    },
    async warmUp(): Promise<void> {
      // One short and one longer utterance: the shapes the first requests will have.
      await transcribe([new Float32Array(20 * width), new Float32Array(100 * width)]);
    },
    dispose(): void {
      model.dispose();
    },
  };
}

/**
 * A manifest's `extra.preprocessing` when it has the shape the trainer writes (an image resize
 * and range, an audio spec object); undefined otherwise, and the serving config's is used.
 */
export function preprocessingOfManifest(extra: Record<string, unknown> | undefined): Preprocessing | undefined {
  const p = extra?.preprocessing as { image?: { resize?: unknown; range?: unknown }; audio?: unknown } | undefined;
  const resize = p?.image?.resize;
  const range = p?.image?.range;
  const rangeOk = Array.isArray(range) && range.length === 2 && range.every((x) => typeof x === 'number' && Number.isFinite(x));
  if ((resize !== 'fit' && resize !== 'fill' && resize !== 'mnist') || !rangeOk || p?.audio === null || typeof p?.audio !== 'object') return undefined;
  return { image: { resize, range: [range[0], range[1]] }, audio: p.audio as Preprocessing['audio'] };
}
