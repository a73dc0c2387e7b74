/**
 * A copy of every parameter, mask and state tensor of a model, to undo a pruning
 * iteration that could not recover (all-or-nothing).
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';

export interface Snapshot {
  values: tf.Tensor[];
  masks: tf.Tensor[];
  state: tf.Tensor[];
  dispose(): void;
}

export function takeSnapshot(model: MaskedModel): Snapshot {
  const values = model.params.map((p) => tf.clone(p.value));
  const masks = model.params.map((p) => tf.clone(p.mask));
  const state = model.state.map((s) => tf.clone(s));
  return { values, masks, state, dispose: () => [...values, ...masks, ...state].forEach((t) => t.dispose()) };
}

export function restoreSnapshot(model: MaskedModel, s: Snapshot): void {
  model.params.forEach((p, i) => {
    p.mask.assign(s.masks[i]);
    p.value.assign(s.values[i]);
  });
  model.state.forEach((v, i) => v.assign(s.state[i]));
}
