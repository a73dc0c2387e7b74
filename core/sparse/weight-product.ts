/**
 * Products with a weight matrix W*M that is a new tensor on every call.
 *
 * On wasm, XNNPACK packs the right-hand matrix of every product before it
 * multiplies (tfjs caches the packing per tensor, which never helps a fresh W*M), so
 * x W repacks the whole kernel each time: for LeNet-300-100's fc1 at batch 64,
 * [64,784]x[784,300], the packing (0.75 ms) costs most of what the multiplication
 * does (1.0 ms), and at batch 1 it is nearly all of it (0.76 ms in all). Computed
 * as (W^T x^T)^T, the packed operand is the batch instead, and the two transposes
 * are cheaper than the packing (1.3 ms at batch 64, 0.28 ms at batch 1; dz W^T as
 * (W dz^T)^T: 0.17 ms against 0.24 ms at [64,100]x[100,300]; best of 200, one
 * thread). Each output is the same sum in the same order, so the values do not
 * change (test/core/train-fast-path.test.ts compares them bit for bit).
 */
import * as tf from '../tf.ts';

/** Whether a product with a weight matrix of `weightSize` entries runs with roles swapped. */
export function swapRoles(weightSize: number, otherSize: number): boolean {
  return weightSize > otherSize && tf.getBackend() === 'wasm';
}

/** x w for activations x [M,K] and a weight matrix w [K,N]. */
export function timesWeights(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (!swapRoles(w.size, x.size)) return tf.matMul(x, w);
  return tf.tidy(() => tf.transpose(tf.matMul(tf.transpose(w), tf.transpose(x))));
}

/** dz w^T for output gradients dz [M,N] and a weight matrix w [K,N]. */
export function timesWeightsT(dz: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (!swapRoles(w.size, dz.size)) return tf.matMul(dz, w, false, true);
  return tf.tidy(() => tf.transpose(tf.matMul(w, tf.transpose(dz))));
}
