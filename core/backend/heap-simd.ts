/**
 * SIMD kernels that work in place on the wasm backend's own heap.
 *
 * tfjs's wasm backend keeps every tensor in one WebAssembly memory. This module
 * (assembled by core/sparse/wasm-asm.ts) imports that memory, so its functions read
 * and write tensors where they lie, by their heap offsets, with no copies:
 *
 *   masked_sgd(grad, mask, slot, value, outSlot, outValue, n, momentum, lr, wd)
 *     the masked momentum-SGD update of core/backend/masked-sgd.ts, four entries
 *     per f32x4 operation and the same float32 operations in the same order (wasm
 *     SIMD has no fused multiply-add), so bit for bit the tfjs ops;
 *   gather(windex, w, values, count)   values[k] = w[windex[k]] (byte offsets);
 *   sddmm(offsets, inputs, windex, outUnits, x, dz, stride, out, outBytes)
 *     a masked layer's kernel gradient x^T dz at its live connections only, in the
 *     batch-innermost layout of core/sparse/spmm-wasm.ts (x [in][nb], dz [out][nb]):
 *     out is zeroed, then for output j and each live input i of it,
 *     out[windex] = sum over the batch of x[i][b] dz[j][b];
 *   leaky_grad(dy, x, out, n, alpha)   the leaky ReLU's input gradient,
 *     out = x > 0 ? dy : dy * alpha, as tfjs's gradient computes it
 *     (where(greater(x, 0), dy, dy * alpha)) in one pass, bit for bit;
 *   spmm, transpose: core/sparse/spmm-wasm.ts's, on this memory.
 *
 * The heap grows in place (pointers stay valid), and a threaded backend's memory
 * is shared, which the import declares.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  I32, F32, V128, IF, EMPTY, END, TEE, I32_LOAD, F32_LOAD, F32_STORE, I32_GE_U, I32_ADD, I32_MUL, I32_AND, I32_SHL,
  F32_ADD, F32_SUB, F32_MUL, V128_LOAD, V128_STORE, F32X4_SPLAT, F32X4_ADD, F32X4_SUB, F32X4_MUL, MEMORY_FILL, f32x4Lane,
  get, set, i32, f32, mem, whileNot, moduleBytes, compileModule, instantiateModule, type AsmFunction, type AsmMemoryObject,
} from '../sparse/wasm-asm.ts';
import { spmmFunction, transposeFunction } from '../sparse/spmm-wasm.ts';

const ELSE = 0x05;
const SELECT = 0x1b;
const F32_EQ = 0x5b;
const F32_GT = 0x5e;
const F32X4_GT = [0xfd, 0x44];
const V128_BITSELECT = [0xfd, 0x52];

/**
 * One step of the masked SGD update at byte offset I, as vectors (`vector`) or
 * one float: g = grad*m (+ value*wd); v = (slot*mom + g)*m; w = (value - v*lr)*m.
 */
function sgdStep(vector: boolean, decay: boolean): number[] {
  const [GRAD, MASK, SLOT, VALUE, OUT_SLOT, OUT_VALUE] = [0, 1, 2, 3, 4, 5];
  const [MOM, LR, WD] = vector ? [13, 14, 15] : [7, 8, 9];
  const I = 10;
  const [M, G, V] = vector ? [16, 17, 18] : [19, 20, 21];
  const load = (base: number): number[] => [...get(base), ...get(I), I32_ADD, ...(vector ? [...V128_LOAD, ...mem(2, 0)] : [F32_LOAD, ...mem(2, 0)])];
  const store = (base: number, value: number[]): number[] => [...get(base), ...get(I), I32_ADD, ...value, ...(vector ? [...V128_STORE, ...mem(2, 0)] : [F32_STORE, ...mem(2, 0)])];
  const [add, sub, mul] = vector ? [F32X4_ADD, F32X4_SUB, F32X4_MUL] : [[F32_ADD], [F32_SUB], [F32_MUL]];
  return [
    ...load(MASK), ...set(M),
    ...load(GRAD), ...get(M), ...mul, ...set(G),
    ...(decay ? [...get(G), ...load(VALUE), ...get(WD), ...mul, ...add, ...set(G)] : []),
    ...load(SLOT), ...get(MOM), ...mul, ...get(G), ...add, ...get(M), ...mul, ...set(V),
    ...store(OUT_SLOT, get(V)),
    ...store(OUT_VALUE, [...load(VALUE), ...get(V), ...get(LR), ...mul, ...sub, ...get(M), ...mul]),
    ...get(I), ...i32(vector ? 16 : 4), I32_ADD, ...set(I),
  ];
}

function maskedSgdFunction(): AsmFunction {
  const [N, MOM, LR, WD, I, END4, END_ALL, MOM_V, LR_V, WD_V] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const loops = (decay: boolean): number[] => [
    ...i32(0), ...set(I),
    ...whileNot([...get(I), ...get(END4), I32_GE_U], sgdStep(true, decay)),
    ...whileNot([...get(I), ...get(END_ALL), I32_GE_U], sgdStep(false, decay)),
  ];
  return {
    name: 'masked_sgd',
    params: [I32, I32, I32, I32, I32, I32, I32, F32, F32, F32],
    locals: [[3, I32], [6, V128], [3, F32]],
    body: [
      ...get(N), ...i32(-4), I32_AND, ...i32(2), I32_SHL, ...set(END4),
      ...get(N), ...i32(2), I32_SHL, ...set(END_ALL),
      ...get(MOM), ...F32X4_SPLAT, ...set(MOM_V),
      ...get(LR), ...F32X4_SPLAT, ...set(LR_V),
      ...get(WD), ...F32X4_SPLAT, ...set(WD_V),
      ...get(WD), ...f32(0), F32_EQ, IF, EMPTY, ...loops(false), ELSE, ...loops(true), END,
    ],
  };
}

function gatherFunction(): AsmFunction {
  const [WINDEX, W, VALUES, COUNT, K, E] = [0, 1, 2, 3, 4, 5];
  return {
    name: 'gather',
    params: [I32, I32, I32, I32],
    locals: [[2, I32]],
    body: [
      ...get(COUNT), ...i32(2), I32_SHL, ...set(E),
      ...whileNot([...get(K), ...get(E), I32_GE_U], [
        ...get(VALUES), ...get(K), I32_ADD,
        ...get(W), ...get(WINDEX), ...get(K), I32_ADD, I32_LOAD, ...mem(2, 0), I32_ADD, F32_LOAD, ...mem(2, 0),
        F32_STORE, ...mem(2, 0),
        ...get(K), ...i32(4), I32_ADD, ...set(K),
      ]),
    ],
  };
}

function sddmmFunction(): AsmFunction {
  const [OFFSETS, INPUTS, WINDEX, OUT_UNITS, X, DZ, STRIDE, OUT, OUT_BYTES] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [J, K, K_END, X_ROW, DZ_ROW, B, B64] = [9, 10, 11, 12, 13, 14, 15];
  const ACC = [16, 17, 18, 19];
  const product = (acc: number, t: number): number[] => [
    ...get(acc),
    ...get(X_ROW), ...get(B), I32_ADD, ...V128_LOAD, ...mem(2, 16 * t),
    ...get(DZ_ROW), ...get(B), I32_ADD, ...V128_LOAD, ...mem(2, 16 * t),
    ...F32X4_MUL, ...F32X4_ADD, ...set(acc),
  ];
  const connection = [
    // X_ROW = x + inputs[k] * stride
    ...get(X), ...get(INPUTS), ...get(K), I32_ADD, I32_LOAD, ...mem(2, 0), ...get(STRIDE), I32_MUL, I32_ADD, ...set(X_ROW),
    ...ACC.flatMap((a) => [...f32(0), ...F32X4_SPLAT, ...set(a)]),
    ...i32(0), ...set(B),
    ...whileNot([...get(B), ...get(B64), I32_GE_U], [...ACC.flatMap((a, t) => product(a, t)), ...get(B), ...i32(64), I32_ADD, ...set(B)]),
    ...whileNot([...get(B), ...get(STRIDE), I32_GE_U], [...product(ACC[0], 0), ...get(B), ...i32(16), I32_ADD, ...set(B)]),
    ...get(ACC[0]), ...get(ACC[1]), ...F32X4_ADD, ...get(ACC[2]), ...get(ACC[3]), ...F32X4_ADD, ...F32X4_ADD, ...set(ACC[0]),
    // out[windex[k]] = (lane 0 + lane 1) + (lane 2 + lane 3)
    ...get(OUT), ...get(WINDEX), ...get(K), I32_ADD, I32_LOAD, ...mem(2, 0), I32_ADD,
    ...get(ACC[0]), ...f32x4Lane(0), ...get(ACC[0]), ...f32x4Lane(1), F32_ADD,
    ...get(ACC[0]), ...f32x4Lane(2), ...get(ACC[0]), ...f32x4Lane(3), F32_ADD, F32_ADD,
    F32_STORE, ...mem(2, 0),
    ...get(K), ...i32(4), I32_ADD, ...set(K),
  ];
  return {
    name: 'sddmm',
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    locals: [[7, I32], [4, V128]],
    body: [
      ...get(OUT), ...i32(0), ...get(OUT_BYTES), ...MEMORY_FILL,
      ...get(STRIDE), ...i32(-64), I32_AND, ...set(B64),
      ...whileNot([...get(J), ...get(OUT_UNITS), I32_GE_U], [
        // K, K_END = offsets[j], offsets[j + 1]; DZ_ROW = dz + j * stride
        ...get(OFFSETS), ...get(J), ...i32(2), I32_SHL, I32_ADD, I32_LOAD, ...mem(2, 0), ...set(K),
        ...get(OFFSETS), ...get(J), ...i32(2), I32_SHL, I32_ADD, I32_LOAD, ...mem(2, 4), ...set(K_END),
        ...get(DZ), ...get(J), ...get(STRIDE), I32_MUL, I32_ADD, ...set(DZ_ROW),
        ...whileNot([...get(K), ...get(K_END), I32_GE_U], connection),
        ...get(J), ...i32(1), I32_ADD, ...set(J),
      ]),
    ],
  };
}

function leakyGradFunction(): AsmFunction {
  const [DY, X, OUT, N, ALPHA, I, END4, END_ALL, ALPHA_V, ZERO_V, DY_V, DY_S] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const at = (base: number): number[] => [...get(base), ...get(I), I32_ADD];
  const vector = [
    ...at(OUT),
    ...at(DY), ...V128_LOAD, ...mem(2, 0), TEE, DY_V,
    ...get(DY_V), ...get(ALPHA_V), ...F32X4_MUL,
    ...at(X), ...V128_LOAD, ...mem(2, 0), ...get(ZERO_V), ...F32X4_GT,
    ...V128_BITSELECT, ...V128_STORE, ...mem(2, 0),
    ...get(I), ...i32(16), I32_ADD, ...set(I),
  ];
  const scalar = [
    ...at(OUT),
    ...at(DY), F32_LOAD, ...mem(2, 0), TEE, DY_S,
    ...get(DY_S), ...get(ALPHA), F32_MUL,
    ...at(X), F32_LOAD, ...mem(2, 0), ...f32(0), F32_GT,
    SELECT, F32_STORE, ...mem(2, 0),
    ...get(I), ...i32(4), I32_ADD, ...set(I),
  ];
  return {
    name: 'leaky_grad',
    params: [I32, I32, I32, I32, F32],
    // ZERO_V is never set: locals start at zero.
    locals: [[3, I32], [3, V128], [1, F32]],
    body: [
      ...get(N), ...i32(-4), I32_AND, ...i32(2), I32_SHL, ...set(END4),
      ...get(N), ...i32(2), I32_SHL, ...set(END_ALL),
      ...get(ALPHA), ...F32X4_SPLAT, ...set(ALPHA_V),
      ...whileNot([...get(I), ...get(END4), I32_GE_U], vector),
      ...whileNot([...get(I), ...get(END_ALL), I32_GE_U], scalar),
    ],
  };
}

/** The module's functions (byte offsets into the backend's heap throughout). */
export interface HeapKernels {
  readonly masked_sgd: (grad: number, mask: number, slot: number, value: number, outSlot: number, outValue: number, n: number, momentum: number, lr: number, wd: number) => void;
  readonly gather: (windex: number, w: number, values: number, count: number) => void;
  readonly sddmm: (offsets: number, inputs: number, windex: number, outUnits: number, x: number, dz: number, stride: number, out: number, outBytes: number) => void;
  readonly leaky_grad: (dy: number, x: number, out: number, n: number, alpha: number) => void;
  readonly spmm: (offsets: number, inputs: number, values: number, bias: number, outUnits: number, x: number, y: number, stride: number, slope: number) => void;
  readonly transpose: (src: number, rows: number, cols: number, dst: number) => void;
}

/** The emscripten module of the wasm backend, as far as this file uses it. */
interface EmscriptenHeap {
  wasmMemory?: AsmMemoryObject;
  asm?: { memory?: AsmMemoryObject };
  _malloc(bytes: number): number;
  _free(pointer: number): void;
}

const compiled = new Map<boolean, object>();
const instances = new WeakMap<object, HeapKernels>();

/** The backend's memory, or undefined where this build does not expose it. */
function heapMemory(backend: BackendWasm): AsmMemoryObject | undefined {
  const module = backend.wasm as unknown as EmscriptenHeap;
  return module.wasmMemory ?? module.asm?.memory;
}

/** The kernels on the current backend's heap, or null when the backend is not wasm (or its memory is out of reach). */
export function heapKernels(): HeapKernels | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as BackendWasm;
  const cached = instances.get(backend);
  if (cached) return cached;
  const memory = heapMemory(backend);
  if (!memory) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  let module = compiled.get(shared);
  if (!module) {
    module = compileModule(moduleBytes([maskedSgdFunction(), gatherFunction(), sddmmFunction(), leakyGradFunction(), spmmFunction(), transposeFunction()], { kind: 'import', shared }));
    compiled.set(shared, module);
  }
  const kernels = instantiateModule<HeapKernels>(module, memory);
  instances.set(backend, kernels);
  return kernels;
}

/** Byte offset of a tensor's data in the current wasm backend's heap. */
export function heapOffset(t: tf.TensorInfo): number {
  return (tf.backend() as BackendWasm).dataIdMap.get(t.dataId).memoryOffset;
}

/** Allocates `bytes` on the current wasm backend's heap (free with `heapFree`). */
export function heapAlloc(bytes: number): number {
  return ((tf.backend() as BackendWasm).wasm as unknown as EmscriptenHeap)._malloc(Math.max(16, bytes));
}

/** Frees what `heapAlloc` returned, on the backend it came from. */
export function heapFree(backend: BackendWasm, pointer: number): void {
  (backend.wasm as unknown as EmscriptenHeap)._free(pointer);
}

/** A view of `count` int32s at byte offset `at` of the current wasm heap (valid until the heap grows). */
export function heapInts(at: number, count: number): Int32Array {
  const memory = heapMemory(tf.backend() as BackendWasm) as AsmMemoryObject;
  return new Int32Array(memory.buffer, at, count);
}
