/**
 * One backward pass with respect to the effective weights W*M.
 *
 * Taking the gradient w.r.t. W*M rather than W gives, in the same pass, the
 * training gradient of live connections (g*M) and the growth signal of dormant
 * ones (g*(1-M)), which dL/dW would hide behind the mask (paper section 4.2.1).
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';
import type { Task, TaskBatch } from './task.ts';
import { chainBackward, handWrittenChain } from './dense-chain.ts';

export interface BackwardResult {
  /** Loss of the batch. */
  loss: number;
  /** dL/d(W*M) for every parameter of `model.params`, in order. Caller disposes. */
  grads: tf.Tensor[];
}

/**
 * What a caller needs of the gradients: `all` (the default; growth: dormant connections'
 * entries are its signal) or `live` (a training step: the masked update keeps only the
 * live connections' entries, so kernels at low density may compute only those,
 * core/train/sparse-fc.ts, and leave zeros elsewhere).
 */
export type GradientScope = 'live' | 'all';

export function backward<D extends { n: number }>(model: MaskedModel, task: Task<D>, batch: TaskBatch, x: tf.Tensor = batch.x, scope: GradientScope = 'all'): BackwardResult {
  // A chain of dense layers under softmax cross-entropy: the same gradients without the tape.
  const chain = handWrittenChain(model, task);
  if (chain !== null) return chainBackward(model, chain, batch, x, scope === 'live');
  return tapedBackward(model, task, batch, x);
}

/** `backward` through tfjs's gradient tape (any model, any task). */
export function tapedBackward<D extends { n: number }>(model: MaskedModel, task: Task<D>, batch: TaskBatch, x: tf.Tensor = batch.x): BackwardResult {
  const params = model.params;
  const updates: Array<{ variable: tf.Variable; value: tf.Tensor }> = [];
  const result = tf.tidy(() => {
    const effective = params.map((p) => p.effective());
    const f = (...ws: tf.Tensor[]) => {
      const weights = new Map(params.map((p, i) => [p.name, ws[i]]));
      return task.loss(model.forward(x, { training: true, weights, stateUpdates: updates }), batch);
    };
    const { value, grads } = tf.valueAndGrads(f)(effective);
    return { value, grads };
  });
  for (const u of updates) {
    u.variable.assign(u.value);
    u.value.dispose();
  }
  const loss = result.value.dataSync()[0];
  result.value.dispose();
  return { loss, grads: result.grads };
}
