/**
 * The backward pass of a model that is one chain of masked fully connected layers
 * (LeNet-300-100, the MLPs) under softmax cross-entropy, written out instead of
 * recorded on tfjs's gradient tape.
 *
 * The taped pass (core/train/step.ts) runs about 110 kernels a step on
 * LeNet-300-100, the tape copies every tensor it saves for the backward pass (the
 * 784x300 effective kernel among them), and a fifth of the step went outside the
 * kernels (bench/results/profile-train.md). This pass runs the kernels of the
 * gradients tfjs registers for MatMul, Add, LeakyRelu, LogSoftmax, Mul, Sum, Mean and
 * Neg, applied by hand in the same order (the loss's gradient with fewer kernels for
 * the same values), so its loss and its gradients dL/d(W*M) equal the taped ones bit
 * for bit, in about 50 kernels and with no copies. Products with W*M run with roles
 * swapped on wasm (core/sparse/weight-product.ts); the transposed input x^T of such a
 * product is kept for the kernel's gradient x^T dz, which would otherwise transpose x
 * again.
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';
import type { MaskedDense } from '../sparse/masked-dense.ts';
import type { Task, TaskBatch } from './task.ts';
import type { BackwardResult } from './step.ts';
import { swapRoles, timesWeightsT } from '../sparse/weight-product.ts';
import { leakyReluGrad } from '../backend/leaky-relu-grad.ts';
import { sparseBatch, sparseForwardT, sparseKernelGrad, sparseStructure } from './sparse-fc.ts';

/** Slope of the leaky ReLU between layers (core/sparse/layer.ts, `leaky`). */
const LEAKY_SLOPE = 0.01;

/** The chain to differentiate by hand, or null when the model or the loss is not of that form. */
export function handWrittenChain<D extends { n: number }>(model: MaskedModel, task: Task<D>): MaskedDense[] | null {
  if (task.lossKind !== 'softmax-cross-entropy') return null;
  return model.trainingChain();
}

/**
 * Loss and dL/d(W*M) for every parameter of `model.params` (in order; the caller
 * disposes them), for the chain `layers` that is the whole model, on class labels
 * `batch.target` and inputs `x` [B, ...]. With `liveOnly`, kernels sparse enough
 * get their gradient at live connections only (zero at dormant ones: training, not
 * growth).
 */
export function chainBackward(model: MaskedModel, layers: MaskedDense[], batch: TaskBatch, x: tf.Tensor, liveOnly = false): BackwardResult {
  const labels = batch.target as tf.Tensor1D;
  const { value, grads } = tf.tidy(() => {
    const size = x.shape[0];
    // Forward, keeping each layer's input and pre-activation. Layers sparse enough
    // take the live-connection products (core/train/sparse-fc.ts) and need no W*M.
    const sparse = layers.map((l) => (liveOnly && sparseBatch(size) ? sparseStructure(l.kernel) : null));
    const kernels = layers.map((l, i) => (sparse[i] && i === 0 ? null : l.kernel.effective() as tf.Tensor2D));
    const biases = layers.map((l) => l.bias.effective());
    // Each layer's input, or its transpose when the product ran with roles swapped.
    const inputs: Array<{ h: tf.Tensor2D; transposed: boolean }> = [];
    const pre: tf.Tensor[] = [];
    let h = x.reshape([size, -1]) as tf.Tensor2D;
    layers.forEach((layer, i) => {
      const w = kernels[i];
      const live = sparse[i];
      let z: tf.Tensor2D;
      if (live) {
        const hT = tf.transpose(h);
        inputs.push({ h: hT, transposed: true });
        z = tf.transpose(sparseForwardT(live, hT, layer.kernel, biases[i]));
      } else if (w && swapRoles(w.size, h.size)) {
        const hT = tf.transpose(h);
        inputs.push({ h: hT, transposed: true });
        z = tf.transpose(tf.matMul(tf.transpose(w), hT)).add(biases[i]);
      } else {
        inputs.push({ h, transposed: false });
        z = tf.matMul(h, w as tf.Tensor2D).add(biases[i]);
      }
      pre.push(z);
      h = (i < layers.length - 1 ? tf.leakyRelu(z, LEAKY_SLOPE) : z) as tf.Tensor2D;
    });
    // Loss, as classificationTask's `loss`: -mean(sum(logSoftmax(h) * oneHot(y), 1)).
    const logp = tf.logSoftmax(h);
    const classes = h.shape[1] as number;
    const oneHot = tf.oneHot(labels, classes).cast('float32');
    const loss = tf.neg(tf.mean(tf.sum(logp.mul(oneHot), 1)));
    // Its gradient as the tape computes it: d neg = -1; d mean = -1 / B (a float32
    // division, the float32 rounding of the exact quotient, as Math.fround of the double
    // quotient is); d sum broadcasts it; d mul = dy * oneHot; d logSoftmax =
    // dy - sum(dy, 1) * exp(logp). The same float32 values from 5 kernels instead of 14.
    const dLogp = oneHot.mul(tf.scalar(Math.fround(-1 / size)));
    let dz = dLogp.sub(dLogp.sum(1, true).mul(tf.exp(logp)));
    const byName = new Map<string, tf.Tensor>();
    for (let i = layers.length - 1; i >= 0; i--) {
      byName.set(layers[i].bias.name, dz.sum(0).reshape(biases[i].shape));
      const input = inputs[i];
      const live = sparse[i];
      let dw: tf.Tensor;
      if (live) dw = sparseKernelGrad(live, input.h, dz as tf.Tensor2D);
      else dw = input.transposed ? tf.matMul(input.h, dz as tf.Tensor2D) : tf.matMul(input.h, dz as tf.Tensor2D, true, false);
      byName.set(layers[i].kernel.name, dw);
      if (i === 0) break;
      const dh = timesWeightsT(dz as tf.Tensor2D, kernels[i] as tf.Tensor2D);
      dz = leakyReluGrad(dh, pre[i - 1], LEAKY_SLOPE);
    }
    return { value: loss, grads: model.params.map((p) => byName.get(p.name) ?? tf.zerosLike(p.value)) };
  });
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads };
}
