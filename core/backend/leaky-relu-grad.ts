/**
 * The leaky ReLU's input gradient as one kernel where that is faster.
 *
 * tfjs's gradient of `LeakyRelu` is where(greater(x, 0), dy, dy * alpha): three
 * kernels and two temporaries the size of the activation. On wasm a SIMD loop on the
 * backend's heap (core/backend/heap-simd.ts, `leaky_grad`) computes the same float32
 * values in one pass: the product is the same single multiplication, and the
 * comparison picks the same operand, NaN included (test/core/train-fast-path.test.ts
 * compares them bit for bit). LeNet-5's and ResNet-18's taped steps and the MLPs'
 * hand-written one (core/train/dense-chain.ts) take it; other backends keep the ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapKernels, heapOffset } from './heap-simd.ts';

const LEAKY_RELU_GRAD = 'BonsaiLeakyReluGrad';

function wasmKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  const out = (backend as BackendWasm).makeOutput(dy.shape, 'float32');
  const simd = heapKernels() as NonNullable<ReturnType<typeof heapKernels>>;
  simd.leaky_grad(heapOffset(dy), heapOffset(x), heapOffset(out), tf.util.sizeFromShape(dy.shape), Math.fround(attrs.alpha as number));
  return out;
}

if (tf.getKernel(LEAKY_RELU_GRAD, 'wasm') === undefined) {
  tf.registerKernel({ kernelName: LEAKY_RELU_GRAD, backendName: 'wasm', kernelFunc: wasmKernel as unknown as tf.KernelFunc });
}

/** dL/dx of y = leakyRelu(x, alpha) for dL/dy = `dy` (same shape, float32). */
export function leakyReluGrad(dy: tf.Tensor, x: tf.Tensor, alpha: number): tf.Tensor {
  const fused = heapKernels() !== null && dy.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(dy.shape, x.shape);
  if (fused) return tf.engine().runKernel(LEAKY_RELU_GRAD, { dy, x }, { alpha }) as tf.Tensor;
  return tf.tidy(() => tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha)));
}

/** Makes tfjs's gradient of `LeakyRelu` use `leakyReluGrad` (call after tfjs registered its own). */
export function registerLeakyReluGradient(): void {
  tf.registerGradient({
    kernelName: tf.LeakyRelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { alpha } = attrs as unknown as { alpha: number };
      return { x: () => leakyReluGrad(dy as tf.Tensor, x, alpha) };
    },
  });
}
