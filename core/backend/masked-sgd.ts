/**
 * One masked momentum-SGD update of one parameter as a single kernel.
 *
 * The same update as tfjs ops (core/train/optimizer.ts) runs seven elementwise
 * kernels over the parameter: on cpu each is a JavaScript pass over the whole tensor
 * into a new array, on wasm each costs a dispatch (about 5 us) however small the
 * tensor. This kernel makes one pass and rounds to float32 after every operation in
 * the same order as the ops, so its results are bit for bit those of the ops:
 *
 *   g  = grad * mask (+ weightDecay * value, for kernels)
 *   v' = (slot * momentum + g) * mask
 *   w' = (value - v' * learningRate) * mask
 *
 * Outputs are new tensors [v', w'] (inputs may share their memory with snapshots or
 * clones, so nothing is written in place).
 *
 * On wasm it runs as a SIMD loop on the backend's heap (core/backend/heap-simd.ts:
 * four entries per f32x4 operation, the same float32 operations, so the same bits),
 * which beats the ops at every size (LeNet-300-100's 784x300 kernel: 0.10 ms
 * against 0.32 ms as ops, one thread). Where the heap is out of reach it falls back
 * to the scalar JavaScript loop for tensors of at most `WASM_FUSED_MAX` entries
 * (biases, small kernels), above which XNNPACK's elementwise ops are faster than
 * that loop (784x300: 1.2 ms against 0.26 ms).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapKernels, heapOffset } from './heap-simd.ts';

/** The kernel's name (registered for `cpu` and `wasm`). */
export const MASKED_SGD = 'BonsaiMaskedSgd';

/** Attributes: float32 scalars as the ops would hold them. */
export interface MaskedSgdAttrs {
  momentum: number;
  learningRate: number;
  /** 0 for none. */
  weightDecay: number;
}

const f = Math.fround;

/** The update over plain arrays (all of one length). */
export function maskedSgdUpdate(grad: Float32Array, mask: Float32Array, slot: Float32Array, value: Float32Array, outSlot: Float32Array, outValue: Float32Array, attrs: MaskedSgdAttrs): void {
  const momentum = f(attrs.momentum);
  const lr = f(attrs.learningRate);
  const wd = f(attrs.weightDecay);
  const n = grad.length;
  if (wd !== 0) {
    for (let i = 0; i < n; i++) {
      const m = mask[i];
      const g = f(f(grad[i] * m) + f(value[i] * wd));
      const v = f(f(f(slot[i] * momentum) + g) * m);
      outSlot[i] = v;
      outValue[i] = f(f(value[i] - f(v * lr)) * m);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const m = mask[i];
    const g = f(grad[i] * m);
    const v = f(f(f(slot[i] * momentum) + g) * m);
    outSlot[i] = v;
    outValue[i] = f(f(value[i] - f(v * lr)) * m);
  }
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

function checkInputs(inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const { grad, mask, slot, value } = inputs as Record<string, tf.TensorInfo>;
  const all = [grad, mask, slot, value];
  for (const t of all) {
    if (t.dtype !== 'float32') throw new BonsaiError('BONSAI_CORE_ASSERT', `${MASKED_SGD} takes float32 tensors, got ${t.dtype}`);
    if (!tf.util.arraysEqual(t.shape, value.shape)) throw new BonsaiError('BONSAI_CORE_ASSERT', `${MASKED_SGD}: shapes differ: [${grad.shape}] [${mask.shape}] [${slot.shape}] [${value.shape}]`);
  }
  return all;
}

function wasmKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const wasm = backend as BackendWasm;
  const [grad, mask, slot, value] = checkInputs(inputs);
  // Outputs first: allocating may grow the heap, which detaches earlier views.
  const outSlot = wasm.makeOutput(value.shape, 'float32');
  const outValue = wasm.makeOutput(value.shape, 'float32');
  const { momentum, learningRate, weightDecay } = attrs as unknown as MaskedSgdAttrs;
  const simd = heapKernels();
  if (simd) {
    simd.masked_sgd(heapOffset(grad), heapOffset(mask), heapOffset(slot), heapOffset(value), heapOffset(outSlot), heapOffset(outValue),
      tf.util.sizeFromShape(value.shape), Math.fround(momentum), Math.fround(learningRate), Math.fround(weightDecay));
    return [outSlot, outValue];
  }
  const view = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
  maskedSgdUpdate(view(grad), view(mask), view(slot), view(value), view(outSlot), view(outValue), attrs as unknown as MaskedSgdAttrs);
  return [outSlot, outValue];
}

interface CpuLike extends tf.KernelBackend {
  data: { get(dataId: tf.DataId): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

function cpuKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const cpu = backend as CpuLike;
  const [grad, mask, slot, value] = checkInputs(inputs);
  const read = (t: tf.TensorInfo) => cpu.data.get(t.dataId).values as Float32Array;
  const n = tf.util.sizeFromShape(value.shape);
  const outSlot = new Float32Array(n);
  const outValue = new Float32Array(n);
  maskedSgdUpdate(read(grad), read(mask), read(slot), read(value), outSlot, outValue, attrs as unknown as MaskedSgdAttrs);
  return [cpu.makeTensorInfo(value.shape, 'float32', outSlot), cpu.makeTensorInfo(value.shape, 'float32', outValue)];
}

/** Largest tensor the fused kernel updates on wasm (above it the ops are faster). */
export const WASM_FUSED_MAX = 4096;

/** Registers the kernel for cpu and wasm (idempotent). */
export function registerMaskedSgd(): void {
  for (const [backendName, kernelFunc] of [['cpu', cpuKernel], ['wasm', wasmKernel]] as const) {
    if (tf.getKernel(MASKED_SGD, backendName) === undefined) tf.registerKernel({ kernelName: MASKED_SGD, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

registerMaskedSgd();

/** Whether to update a parameter of `size` entries with the kernel on the current backend. */
export function useMaskedSgd(size: number): boolean {
  const backend = tf.getBackend();
  if (tf.getKernel(MASKED_SGD, backend) === undefined) return false;
  return backend !== 'wasm' || size <= WASM_FUSED_MAX || heapKernels() !== null;
}

/** [v', w'] for one parameter (see the file comment); the caller owns both. */
export function maskedSgd(grad: tf.Tensor, mask: tf.Tensor, slot: tf.Tensor, value: tf.Tensor, attrs: MaskedSgdAttrs): [tf.Tensor, tf.Tensor] {
  const out = tf.engine().runKernel(MASKED_SGD, { grad, mask, slot, value }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return [out[0], out[1]];
}
