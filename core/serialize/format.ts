/**
 * The on-disk form of a model: `model.json` (architecture spec, tensor table,
 * lineage), `weights.bin` (float32 little-endian values of every parameter, then
 * every state tensor) and `masks.bin` (one bit per parameter entry, LSB first).
 * Pure functions here; core/serialize/files.ts reads and writes them.
 */
import * as tf from '../tf.ts';
import { BonsaiError } from '../errors.ts';
import { createModel } from '../models/index.ts';
import type { MaskedModel, ModelSpec } from '../models/model.ts';

/** Where a model came from: what the registry and the results need to trace it. */
export interface Lineage {
  /** Registry version of the parent model, or null for the first. */
  parent: number | null;
  /** Training samples seen by the update that made it. */
  samplesSeen?: number;
  /** Class labels, in output-unit order. */
  labels?: string[];
  /** Training cost of the update that made it. */
  cost?: Record<string, unknown>;
  /** Anything else worth keeping (strategy, backend, timings). */
  [key: string]: unknown;
}

export interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements into weights.bin. */
  offset: number;
}

export interface ModelFile {
  format: 'bonsai-model';
  formatVersion: 1;
  spec: ModelSpec;
  params: TensorEntry[];
  state: TensorEntry[];
  liveParams: number;
  denseParams: number;
  lineage: Lineage;
}

export interface SerializedModel {
  json: ModelFile;
  weights: Uint8Array;
  masks: Uint8Array;
}

export function serializeModel(model: MaskedModel, lineage: Lineage): SerializedModel {
  const stateNames = stateNamesOf(model);
  const tensors = [...model.params.map((p) => p.value as tf.Tensor), ...model.state];
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const values = new Float32Array(total);
  const entries: TensorEntry[] = [];
  let offset = 0;
  tensors.forEach((t, i) => {
    values.set(t.dataSync() as Float32Array, offset);
    const name = i < model.params.length ? model.params[i].name : stateNames[i - model.params.length];
    entries.push({ name, shape: [...t.shape], offset });
    offset += t.size;
  });
  const maskCount = model.params.reduce((n, p) => n + p.size, 0);
  const masks = new Uint8Array(Math.ceil(maskCount / 8));
  let bit = 0;
  for (const p of model.params) {
    const m = p.mask.dataSync();
    for (let j = 0; j < m.length; j++, bit++) if (m[j] !== 0) masks[bit >> 3] |= 1 << (bit & 7);
  }
  const json: ModelFile = {
    format: 'bonsai-model', formatVersion: 1, spec: model.spec,
    params: entries.slice(0, model.params.length), state: entries.slice(model.params.length),
    liveParams: model.liveParams(), denseParams: model.denseParams(), lineage,
  };
  return { json, weights: new Uint8Array(values.buffer), masks };
}

export function deserializeModel(file: SerializedModel): MaskedModel {
  const { json } = file;
  if (json.format !== 'bonsai-model' || json.formatVersion !== 1) {
    throw new BonsaiError('BONSAI_CORE_MODEL_FORMAT', `not a bonsai model file (format ${String(json.format)}, version ${String(json.formatVersion)})`, { format: json.format, formatVersion: json.formatVersion });
  }
  const values = new Float32Array(file.weights.buffer.slice(file.weights.byteOffset, file.weights.byteOffset + file.weights.byteLength));
  const model = createModel(json.spec);
  const expect = (entries: TensorEntry[], actual: { name: string; shape: number[] }[]) => {
    if (entries.length !== actual.length || entries.some((e, i) => e.shape.join() !== actual[i].shape.join())) {
      model.dispose();
      throw new BonsaiError('BONSAI_CORE_MODEL_FORMAT', `tensor table of ${json.spec.arch} does not match the architecture (${entries.length} tensors saved, ${actual.length} expected)`, { saved: entries.map((e) => e.name), expected: actual.map((a) => a.name) });
    }
  };
  expect(json.params, model.params.map((p) => ({ name: p.name, shape: p.shape })));
  const stateNames = stateNamesOf(model);
  expect(json.state, model.state.map((s, i) => ({ name: stateNames[i], shape: s.shape })));
  let bit = 0;
  model.params.forEach((p, i) => {
    const e = json.params[i];
    const mask = new Float32Array(p.size);
    for (let j = 0; j < p.size; j++, bit++) mask[j] = (file.masks[bit >> 3] >> (bit & 7)) & 1;
    tf.tidy(() => {
      p.mask.assign(tf.tensor(mask, p.shape));
      p.value.assign(tf.tensor(values.subarray(e.offset, e.offset + p.size), p.shape));
    });
  });
  model.state.forEach((s, i) => {
    const e = json.state[i];
    tf.tidy(() => s.assign(tf.tensor(values.subarray(e.offset, e.offset + s.size), s.shape)));
  });
  return model;
}

/** Names of the state tensors, `<layer>/state<i>`, in `model.state` order. */
function stateNamesOf(model: MaskedModel): string[] {
  return model.layers.flatMap((l) => l.state.map((_, j) => `${l.name}/state${j}`));
}
