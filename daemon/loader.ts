/**
 * Loads a registry version into a `LoadedModel` the model holder can serve:
 * verify the artifacts' checksums (never serve a half-written or altered
 * version), rebuild the network from `model.json`, `weights.bin` and
 * `masks.bin`, and read the labels and the drift reference from the lineage and
 * the manifest.
 */
import * as tf from '../core/tf.ts';
import { BonsaiError } from '../core/errors.ts';
import { loadModel } from '../core/serialize/index.ts';
import type { Modality } from '../pipelines/types.ts';
import type { DriftReference } from './metrics/drift.ts';
import type { ModelRegistry } from './registry/index.ts';
import type { LoadedModel, ModelLoader } from './serving/types.ts';

function driftReferenceOf(extra: Record<string, unknown> | undefined): DriftReference | undefined {
  const ref = extra?.driftReference as DriftReference | undefined;
  if (!ref || typeof ref !== 'object' || !Array.isArray(ref.classes) || typeof ref.inputs !== 'object') return undefined;
  return ref;
}

/** A loader reading versions from `registry`; `modality` is used when a manifest does not say. */
export function registryLoader(registry: ModelRegistry, modality: Modality): ModelLoader {
  return async (version) => {
    const v = await registry.get(version);
    const check = await registry.verify(version);
    if (!check.ok) {
      throw new BonsaiError('BONSAI_DAEMON_MODEL_CORRUPT', `model version ${version} failed checksum verification (${[...check.mismatched.map((m) => m.path), ...check.missing, ...check.unexpected].join(', ')})`,
        { version, mismatched: check.mismatched.map((m) => m.path), missing: [...check.missing], unexpected: [...check.unexpected] });
    }
    const { model, file } = await loadModel(v.dir);
    const extra = v.manifest.extra as Record<string, unknown> | undefined;
    const labels = (file.lineage.labels ?? (extra?.labels as string[] | undefined) ?? []).slice(0, model.numClasses);
    const inputShape = [...model.spec.inputShape];
    const loaded: LoadedModel = {
      version,
      labels,
      inputShape,
      modality: (extra?.modality as Modality | undefined) ?? modality,
      driftReference: driftReferenceOf(extra),
      async predict(batch: Float32Array, n: number): Promise<Float32Array> {
        const probs = tf.tidy(() => model.predict(tf.tensor(batch, [n, ...inputShape], 'float32')));
        try {
          const all = (await probs.data()) as Float32Array;
          // The output layer may be wider than the labels known (a class added later); keep the labelled columns.
          const k = probs.shape[1] as number;
          if (k === labels.length) return all;
          const out = new Float32Array(n * labels.length);
          for (let i = 0; i < n; i++) out.set(all.subarray(i * k, i * k + labels.length), i * labels.length);
          return out;
        } finally {
          probs.dispose();
        }
      },
      async warmUp(): Promise<void> {
        const size = inputShape.reduce((a, b) => a * b, 1);
        for (const n of [1, 8]) await loaded.predict(new Float32Array(n * size), n);
      },
      dispose(): void {
        model.dispose();
      },
    };
    return loaded;
  };
}
