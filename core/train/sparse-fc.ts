/**
 * Training products of a masked fully connected layer at low density, on its live
 * connections only (wasm; core/backend/heap-simd.ts).
 *
 * Pruning's retraining runs on models at 5-30 % density, where a dense product
 * multiplies mostly zeros. For a layer whose kernel is sparse enough, the
 * hand-written backward pass (core/train/dense-chain.ts) runs
 *
 *   forward   z^T = (W*M)^T x^T + b   over the live connections (spmm, the serving
 *             kernel, on the live weights gathered from W each step);
 *   gradient  dL/d(W*M) = x^T dz      at the live connections only (sddmm), zero
 *             elsewhere, which is what the masked update keeps of the dense one.
 *
 * Both work in the batch-innermost layout, so a batch must be a multiple of 4
 * samples (otherwise the dense products run). Sums run in another order than
 * XNNPACK's, so values agree with the dense products to float32 rounding, not bit
 * for bit (test/core/sparse-train.test.ts).
 *
 * Each kernel's live structure (per output, its live inputs and their positions
 * in W) is built on the heap when its mask changes, and kept for the
 * `CACHED_LAYERS` kernels used most recently.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { MaskedParam } from '../sparse/masked-param.ts';
import { heapAlloc, heapFree, heapInts, heapKernels, heapOffset } from '../backend/heap-simd.ts';
import { BonsaiError } from '../errors.ts';

/**
 * Kernels at or below this density train on their live connections (wasm).
 * Measured by `npm run bench:sparse` (bench/results/sparse.md, LeNet-300-100's
 * training step, one thread): the live-connection step was 2.9x the dense one at
 * 5 %, 2.4x at 10 %, 1.3x at 40 % and 1.05x at 60 %.
 */
export const SPARSE_TRAIN_MAX_DENSITY = 0.5;

/** The threshold in use (benchmarks set 0 to measure the dense products on the same model). */
export const sparseTraining = { maxDensity: SPARSE_TRAIN_MAX_DENSITY };

/** Structures kept (one per kernel; an experiment trains three models of three layers). */
const CACHED_LAYERS = 16;

/** One kernel's live connections on the heap. */
interface Structure {
  readonly id: number;
  readonly backend: BackendWasm;
  /** The mask tensor this was built from (a new one after every growth or pruning). */
  readonly maskId: tf.DataId;
  readonly density: number;
  readonly inUnits: number;
  readonly outUnits: number;
  readonly live: number;
  /** Heap byte offsets (0 when the kernel is too dense to train sparsely). */
  readonly offsets: number;
  readonly inputs: number;
  readonly windex: number;
  readonly values: number;
}

const structures = new Map<MaskedParam, Structure>();
const byId = new Map<number, Structure>();
let nextId = 1;

function release(s: Structure): void {
  byId.delete(s.id);
  if (s.offsets === 0) return;
  for (const p of [s.offsets, s.inputs, s.windex, s.values]) heapFree(s.backend, p);
}

/** Lays out the live connections of `mask` [inUnits, outUnits] on the heap, grouped by output. */
function build(kernel: MaskedParam, backend: BackendWasm, maxDensity: number): Structure {
  const [inUnits, outUnits] = kernel.shape;
  const mask = kernel.mask.dataSync() as Float32Array;
  let live = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) live++;
  const density = live / mask.length;
  const base = { id: nextId++, backend, maskId: kernel.mask.dataId, density, inUnits, outUnits, live };
  if (density > maxDensity) return { ...base, offsets: 0, inputs: 0, windex: 0, values: 0 };
  // Allocate everything first: allocating may grow the heap, which detaches earlier views.
  const offsets = heapAlloc(4 * (outUnits + 1));
  const inputs = heapAlloc(4 * live);
  const windex = heapAlloc(4 * live);
  const values = heapAlloc(4 * live);
  const start = heapInts(offsets, outUnits + 1);
  const input = heapInts(inputs, live);
  const position = heapInts(windex, live);
  let k = 0;
  start[0] = 0;
  for (let j = 0; j < outUnits; j++) {
    for (let i = 0, at = j; i < inUnits; i++, at += outUnits) {
      if (mask[at] !== 0) {
        input[k] = i;
        position[k] = 4 * at;
        k++;
      }
    }
    start[j + 1] = 4 * k;
  }
  return { ...base, offsets, inputs, windex, values };
}

/**
 * The live structure of a 2-D masked kernel when it should train sparsely on the
 * current backend (wasm, density at most `maxDensity`), else null.
 */
export function sparseStructure(kernel: MaskedParam, maxDensity = sparseTraining.maxDensity): Structure | null {
  if (kernel.shape.length !== 2 || heapKernels() === null) return null;
  const backend = tf.backend() as BackendWasm;
  let s = structures.get(kernel);
  // Most recently used last, so that eviction below never frees a structure a pass
  // fetched before it asks for the next layer's.
  structures.delete(kernel);
  if (s) structures.set(kernel, s);
  const stale = !s || s.maskId !== kernel.mask.dataId || s.backend !== backend;
  if (s && !stale && s.density > maxDensity) return null;
  if (!s || stale || s.offsets === 0) {
    if (s) release(s);
    s = build(kernel, backend, maxDensity);
    structures.set(kernel, s);
    byId.set(s.id, s);
    if (structures.size > CACHED_LAYERS) {
      const [oldest, entry] = structures.entries().next().value as [MaskedParam, Structure];
      release(entry);
      structures.delete(oldest);
    }
  }
  return s.offsets === 0 ? null : s;
}

/** Frees every structure (tests; a process need not call it). */
export function releaseSparseStructures(): void {
  for (const s of structures.values()) release(s);
  structures.clear();
}

const FORWARD = 'BonsaiSparseForwardT';
const KERNEL_GRAD = 'BonsaiSparseKernelGrad';

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}

function structureOf(attrs: tf.NamedAttrMap): Structure {
  const s = byId.get(attrs.structure as number);
  if (!s) throw new BonsaiError('BONSAI_CORE_ASSERT', `sparse training: structure ${String(attrs.structure)} was released`);
  return s;
}

/** The heap kernels, which every sparse-training kernel needs. */
function simdKernels(): NonNullable<ReturnType<typeof heapKernels>> {
  const simd = heapKernels();
  if (!simd) throw new BonsaiError('BONSAI_CORE_ASSERT', 'sparse training needs the wasm heap kernels');
  return simd;
}

/** z^T [out, n] = (W*M)^T x^T + b for x^T [in, n]. */
function forwardKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { xT, w, bias } = inputs as Record<string, tf.TensorInfo>;
  const s = structureOf(attrs);
  const n = xT.shape[1];
  const out = (backend as BackendWasm).makeOutput([s.outUnits, n], 'float32');
  const simd = simdKernels();
  simd.gather(s.windex, heapOffset(w), s.values, s.live);
  simd.spmm(s.offsets, s.inputs, s.values, heapOffset(bias), s.outUnits, heapOffset(xT), heapOffset(out), 4 * n, 1);
  return out;
}

/** dL/d(W*M) [in, out] = x^T dz at the live connections, 0 elsewhere, for x^T [in, n] and dz^T [out, n]. */
function kernelGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { xT, dzT } = inputs as Record<string, tf.TensorInfo>;
  const s = structureOf(attrs);
  const n = xT.shape[1];
  const out = (backend as BackendWasm).makeOutput([s.inUnits, s.outUnits], 'float32');
  const simd = simdKernels();
  simd.sddmm(s.offsets, s.inputs, s.windex, s.outUnits, heapOffset(xT), heapOffset(dzT), 4 * n, heapOffset(out), 4 * s.inUnits * s.outUnits);
  return out;
}

for (const [kernelName, kernelFunc] of [[FORWARD, forwardKernel], [KERNEL_GRAD, kernelGradKernel]] as const) {
  if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/** Whether a batch of `n` samples can take the sparse products (the kernels' layout needs a multiple of 4). */
export function sparseBatch(n: number): boolean {
  return n > 0 && n % 4 === 0;
}

function checkBatch(xT: tf.Tensor, s: Structure): void {
  if (xT.rank !== 2 || xT.shape[0] !== s.inUnits || !sparseBatch(xT.shape[1] ?? 0)) {
    throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `sparse training takes x^T [${s.inUnits}, n] with n a multiple of 4, got [${xT.shape}]`, { inUnits: s.inUnits, shape: xT.shape });
  }
}

/** z^T [out, n] of the layer for its input transposed, x^T [in, n]. */
export function sparseForwardT(s: Structure, xT: tf.Tensor2D, kernel: MaskedParam, bias: tf.Tensor): tf.Tensor2D {
  checkBatch(xT, s);
  return tf.engine().runKernel(FORWARD, { xT, w: kernel.value, bias }, { structure: s.id }) as tf.Tensor2D;
}

/** dL/d(W*M) [in, out] from x^T [in, n] and dz [n, out]. */
export function sparseKernelGrad(s: Structure, xT: tf.Tensor2D, dz: tf.Tensor2D): tf.Tensor2D {
  checkBatch(xT, s);
  return tf.tidy(() => tf.engine().runKernel(KERNEL_GRAD, { xT, dzT: tf.transpose(dz) }, { structure: s.id }) as tf.Tensor2D);
}
