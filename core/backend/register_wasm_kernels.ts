/**
 * The kernels bonsai adds to, or replaces in, tfjs-backend-wasm 4.22 so that
 * LeNet-5 and ResNet-18 train on wasm (forward and backward).
 *
 * The list was found by running tf.grads and optimizer steps of both networks
 * (conv2d 5x5 'same'/'valid', conv2d 3x3/7x7/1x1 with strides 1 and 2, max and
 * average pooling, leaky ReLU, batch norm from moments and fused, residual adds,
 * global average pooling by mean, dense layers, softmax cross-entropy,
 * tf.image.transform, SGD/momentum/Adam) on the cpu backend, recording every
 * kernel executed, and comparing with the kernels registered for wasm, then
 * comparing every gradient with cpu's: `test/core/backend_training.test.ts`
 * repeats both checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { batchMatMulConfig } from './batch_mat_mul.ts';

/** One kernel of the list and why it is there. */
export interface WasmKernelEntry {
  config: tf.KernelConfig;
  /**
   * `missing`: wasm has no such kernel; `faster`: replaces a wasm kernel that is
   * much slower; `wrong`: replaces a wasm kernel whose results differ from cpu's.
   */
  why: 'missing' | 'faster' | 'wrong';
}

/** The explicit list, registered in this order. */
export const wasmKernels: readonly WasmKernelEntry[] = [
  { config: conv2DBackpropFilterConfig, why: 'missing' },
  { config: conv2DBackpropInputConfig, why: 'faster' },
  { config: maxPoolGradConfig, why: 'wrong' },
];

/** Stock wasm kernels that an entry replaced, by kernel name (for comparisons and benchmarks). */
const replaced = new Map<string, tf.KernelConfig>();

/**
 * Registers every kernel of `wasmKernels` for the wasm backend. Idempotent:
 * kernels already registered by an earlier call are left alone. Returns the
 * names of the kernels this call registered.
 */
export function registerWasmKernels(): string[] {
  const done: string[] = [];
  const stockMatMul = tf.getKernel(tf.BatchMatMul, 'wasm');
  const entries = stockMatMul && !replaced.has(tf.BatchMatMul)
    ? [...wasmKernels, { config: batchMatMulConfig(stockMatMul), why: 'faster' as const }]
    : wasmKernels;
  for (const { config } of entries) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      replaced.set(config.kernelName, current);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
    done.push(config.kernelName);
  }
  return done;
}

/** The stock tfjs-backend-wasm kernel that `registerWasmKernels` replaced, if any. */
export function stockWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return replaced.get(kernelName);
}
