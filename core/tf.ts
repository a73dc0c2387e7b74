/**
 * The tfjs entry point of bonsai: tfjs-core ops, with the chained-op methods
 * (`x.mul(y)`) registered. tfjs-core's Node bundle does not register them; the
 * `@tensorflow/tfjs` bundle does, on the same tfjs-core instance, so it is loaded
 * for that side effect.
 */
import '@tensorflow/tfjs';
import type {} from '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
export * from '@tensorflow/tfjs-core';

import { dispose as disposeTensor, variable as makeVariable, type Tensor, type Variable } from '@tensorflow/tfjs-core';
import { registerLeakyReluGradient } from './backend/leaky-relu-grad.ts';

// After '@tensorflow/tfjs' registered its gradients: the leaky ReLU's fused where it pays.
registerLeakyReluGradient();

/**
 * A variable holding `initial`'s values, disposing `initial` (tf.variable keeps its
 * argument alive as a separate tensor, which leaks when it is a temporary).
 */
export function ownedVariable(initial: Tensor, trainable = false): Variable {
  const v = makeVariable(initial, trainable);
  disposeTensor(initial);
  return v;
}
