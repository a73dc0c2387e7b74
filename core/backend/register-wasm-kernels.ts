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
 * comparing every gradient with cpu's: `test/core/backend-training.test.ts`
 * repeats both checks. Only Conv2DBackpropFilter is missing; MaxPoolGrad is
 * replaced because it is wrong, Conv2DBackpropInput and BatchMatMul (with
 * transpose flags) because they are several times slower than they need to be.
 * Each file says why and how.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.ts';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.ts';
import { maxPoolGradConfig } from './max-pool-grad.ts';
import { batchMatMulConfig } from './batch-mat-mul.ts';

/** One kernel of the list and why it is there. */
export interface WasmKernelEntry {
  kernelName: string;
  /**
   * `missing`: wasm has no such kernel; `faster`: replaces a wasm kernel that is
   * much slower; `wrong`: replaces a wasm kernel whose results differ from cpu's.
   */
  why: 'missing' | 'faster' | 'wrong';
  /** The kernel to register, given the stock tfjs-backend-wasm kernel it replaces (undefined when missing). */
  config: (stock: tf.KernelConfig | undefined) => tf.KernelConfig;
}

/** The explicit list, registered in this order. */
export const wasmKernels: readonly WasmKernelEntry[] = [
  { kernelName: tf.Conv2DBackpropFilter, why: 'missing', config: () => conv2DBackpropFilterConfig },
  { kernelName: tf.Conv2DBackpropInput, why: 'faster', config: () => conv2DBackpropInputConfig },
  { kernelName: tf.MaxPoolGrad, why: 'wrong', config: () => maxPoolGradConfig },
  {
    kernelName: tf.BatchMatMul,
    why: 'faster',
    config: (stock) => {
      if (stock === undefined) throw new BonsaiError('BONSAI_CORE_ASSERT', 'the wasm BatchMatMul replacement wraps the stock kernel, which is not registered');
      return batchMatMulConfig(stock);
    },
  },
];

/** Stock wasm kernels that an entry replaced, by kernel name (for comparisons and benchmarks). */
const replaced = new Map<string, tf.KernelConfig>();
/** Kernel functions registered from the list, to recognise them on a second call. */
const ours = new Set<tf.KernelFunc>();

/**
 * Registers every kernel of `wasmKernels` for the wasm backend. Idempotent:
 * kernels already registered by an earlier call are left alone. Returns the
 * names of the kernels this call registered.
 */
export function registerWasmKernels(): string[] {
  const done: string[] = [];
  for (const entry of wasmKernels) {
    const current = tf.getKernel(entry.kernelName, 'wasm');
    if (current !== undefined && ours.has(current.kernelFunc)) continue;
    const config = entry.config(current);
    if (current !== undefined) {
      replaced.set(entry.kernelName, current);
      tf.unregisterKernel(entry.kernelName, 'wasm');
    }
    tf.registerKernel(config);
    ours.add(config.kernelFunc);
    done.push(entry.kernelName);
  }
  return done;
}

/**
 * The stock tfjs-backend-wasm kernel that `registerWasmKernels` replaced, if any.
 * Replaced before the backend started, its `setupFunc` has not run: call it with
 * the backend before using the kernel.
 */
export function stockWasmKernel(kernelName: string): tf.KernelConfig | undefined {
  return replaced.get(kernelName);
}
