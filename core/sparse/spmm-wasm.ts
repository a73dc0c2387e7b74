/**
 * The sparse-kernel times batch product of a masked fully connected layer
 * (y = leaky(x (W*M) + b), paper section 4.2.1 and eq. 4) as a small WebAssembly
 * module with 128-bit SIMD, assembled here byte by byte (no toolchain; the
 * binary format is the WebAssembly core specification, section 5, and the SIMD
 * opcodes are its 0xfd-prefixed instructions).
 *
 * Layout, batch innermost: the input is [in][nb] and the output [out][nb], with
 * nb the batch rounded up to a multiple of 4 (one f32x4 lane per sample). Each
 * output keeps the list of its live inputs (CSR of the transposed kernel), so a
 * tile of 16 samples accumulates in four SIMD registers over that list, loading
 * one weight and four vectors of inputs per connection, and stores once: the
 * sparse matrix times a dense batch of XNNPACK's sparse inference kernels
 * (Elsen et al., "Fast Sparse ConvNets", 2020). What is left of the batch runs in
 * tiles of 4. A layer at density d costs about d of the dense
 * multiply-accumulates; an output with no live input is its bias.
 *
 *   spmm(offsets, inputs, values, bias, outUnits, x, y, stride, slope)
 *   transpose(src, rows, cols, dst)
 *
 * All pointers are byte offsets into the module's exported memory: `offsets`
 * (i32, outUnits + 1) the byte offsets into `inputs` and `values` where each
 * output's connections start, `inputs` (i32) each connection's input index,
 * `values` (f32) its weight, `bias` (f32, outUnits), `x` and `y` the
 * activations, `stride` = nb * 4 bytes (a multiple of 16). `slope` is the
 * leaky ReLU's (0.01), or 1 for no activation: y = max(z, slope * z).
 * `transpose` moves a batch between the callers' [batch][features] layout and
 * the kernel's, 4 x 4 blocks at a time.
 */

import {
  I32, F32, V128, BLOCK, LOOP, EMPTY, END, BR, BR_IF, TEE, I32_LOAD, F32_LOAD, I32_LT_U, IF, I32_GE_U, I32_GT_U, I32_ADD, I32_MUL, I32_SHL,
  V128_LOAD, V128_STORE, F32X4_SPLAT, F32X4_ADD, F32X4_MUL, F32X4_MAX, get, set, i32, f32, mem, moduleBytes, compileModule, instantiateModule,
  type AsmFunction, type AsmMemoryObject,
} from './wasm-asm.ts';

// The function's parameters and locals, by index.
const OFFSETS = 0;
const INPUTS = 1;
const VALUES = 2;
const BIAS = 3;
const OUT_UNITS = 4;
const X = 5;
const Y = 6;
const STRIDE = 7;
const SLOPE = 8;
const J = 9; // output index
const K = 10; // byte offset of the connection
const K_BEGIN = 11;
const K_END = 12;
const B = 13; // byte offset of the tile in a row
const P = 14; // scratch address
const Y_ROW = 15;
const W = 16; // v128: the weight in every lane
const BIAS_V = 17; // v128
const ACC = [18, 19, 20, 21]; // v128 accumulators
const SLOPE_V = 22; // v128

/**
 * One tile of `acc.length` x 4 samples at byte offset B of output J's row:
 * the accumulators start at the bias, each live connection adds weight times
 * inputs, and the activation is stored.
 */
function tile(acc: readonly number[]): number[] {
  return [
    ...acc.flatMap((a) => [...get(BIAS_V), ...set(a)]),
    ...get(K_BEGIN), ...set(K),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(K), ...get(K_END), I32_GE_U, BR_IF, 1,
    // W = splat(values[k])
    ...get(VALUES), ...get(K), I32_ADD, F32_LOAD, ...mem(2, 0), ...F32X4_SPLAT, ...set(W),
    // P = x + inputs[k] * stride + b
    ...get(INPUTS), ...get(K), I32_ADD, I32_LOAD, ...mem(2, 0), ...get(STRIDE), I32_MUL,
    ...get(X), I32_ADD, ...get(B), I32_ADD, ...set(P),
    // acc_t += W * x[P + 16 t]
    ...acc.flatMap((a, t) => [...get(a), ...get(W), ...get(P), ...V128_LOAD, ...mem(4, 16 * t), ...F32X4_MUL, ...F32X4_ADD, ...set(a)]),
    ...get(K), ...i32(4), I32_ADD, ...set(K),
    BR, 0,
    END, END,
    // y[Y_ROW + B + 16 t] = max(acc_t, slope * acc_t)
    ...get(Y_ROW), ...get(B), I32_ADD, ...set(P),
    ...acc.flatMap((a, t) => [...get(P), ...get(a), ...get(a), ...get(SLOPE_V), ...F32X4_MUL, ...F32X4_MAX, ...V128_STORE, ...mem(4, 16 * t)]),
  ];
}

/** ACC[k] += W * x[P + 16 t] for connection byte offset `k` (a local) plus `extra` bytes. */
function connection(k: number, extra: number, acc: number, t: number): number[] {
  return [
    ...get(VALUES), ...get(k), I32_ADD, F32_LOAD, ...mem(2, extra), ...F32X4_SPLAT, ...set(W),
    ...get(INPUTS), ...get(k), I32_ADD, I32_LOAD, ...mem(2, extra), ...get(STRIDE), I32_MUL,
    ...get(X), I32_ADD, ...get(B), I32_ADD, ...set(P),
    ...get(acc), ...get(W), ...get(P), ...V128_LOAD, ...mem(4, 16 * t), ...F32X4_MUL, ...F32X4_ADD, ...set(acc),
  ];
}

/**
 * One tile of 4 samples: two accumulators take every other connection (a
 * single one would wait on its own additions), summed before the store.
 */
function narrowTile(): number[] {
  const [a0, a1] = ACC;
  return [
    ...get(BIAS_V), ...set(a0),
    ...f32(0), ...F32X4_SPLAT, ...set(a1),
    ...get(K_BEGIN), ...set(K),
    // while K + 4 < K_END: two connections
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(K), ...i32(4), I32_ADD, ...get(K_END), I32_GE_U, BR_IF, 1,
    ...connection(K, 0, a0, 0),
    ...connection(K, 4, a1, 0),
    ...get(K), ...i32(8), I32_ADD, ...set(K),
    BR, 0,
    END, END,
    // the last one of an odd count
    ...get(K), ...get(K_END), I32_LT_U, IF, EMPTY,
    ...connection(K, 0, a0, 0),
    END,
    ...get(Y_ROW), ...get(B), I32_ADD, ...set(P),
    ...get(a0), ...get(a1), ...F32X4_ADD, ...set(a0),
    ...get(P), ...get(a0), ...get(a0), ...get(SLOPE_V), ...F32X4_MUL, ...F32X4_MAX, ...V128_STORE, ...mem(4, 0),
  ];
}

/**
 * Every output's `acc.length` x 4 samples at byte offset B of its row: the
 * batch is the outer loop, so the inputs one tile reads (64 bytes of each input
 * row) stay in cache while every output is computed from them.
 */
function outputs(acc: readonly number[]): number[] {
  const body = acc.length === 1 ? narrowTile() : tile(acc);
  return [
    ...i32(0), ...set(J),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(J), ...get(OUT_UNITS), I32_GE_U, BR_IF, 1,
    // K_BEGIN, K_END = offsets[j], offsets[j + 1]
    ...get(OFFSETS), ...get(J), ...i32(2), I32_SHL, I32_ADD, TEE, P,
    I32_LOAD, ...mem(2, 0), ...set(K_BEGIN),
    ...get(P), I32_LOAD, ...mem(2, 4), ...set(K_END),
    // BIAS_V = splat(bias[j]); Y_ROW = y + j * stride
    ...get(BIAS), ...get(J), ...i32(2), I32_SHL, I32_ADD, F32_LOAD, ...mem(2, 0), ...F32X4_SPLAT, ...set(BIAS_V),
    ...get(Y), ...get(J), ...get(STRIDE), I32_MUL, I32_ADD, ...set(Y_ROW),
    ...body,
    ...get(J), ...i32(1), I32_ADD, ...set(J),
    BR, 0,
    END, END,
    ...get(B), ...i32(16 * acc.length), I32_ADD, ...set(B),
  ];
}

/** The body of `spmm`: tiles of 16 samples, then of 4, each over every output. */
function spmmBody(): number[] {
  const wide = 16 * ACC.length;
  return [
    ...get(SLOPE), ...F32X4_SPLAT, ...set(SLOPE_V),
    // while B + 64 <= stride: tiles of 16 samples
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(B), ...i32(wide), I32_ADD, ...get(STRIDE), I32_GT_U, BR_IF, 1,
    ...outputs(ACC),
    BR, 0,
    END, END,
    // while B < stride: tiles of 4
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(B), ...get(STRIDE), I32_GE_U, BR_IF, 1,
    ...outputs(ACC.slice(0, 1)),
    BR, 0,
    END, END,
  ];
}

/**
 * The body of `transpose(src, rows, cols, dst)`: `src` [rows][cols] f32
 * row-major into `dst` [cols][rows], both counts multiples of 4, by 4 x 4
 * blocks: four rows loaded as vectors, interleaved by shuffles, stored as
 * four columns.
 */
function transposeBody(): number[] {
  const [SRC, ROWS, COLS, DST, R, C, P4, Q, RS, CS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const ROW = [10, 11, 12, 13];
  const T = [14, 15, 16, 17];
  /** i8x16.shuffle picking float lanes of a || b (lanes 0-3 of a, 4-7 of b). */
  const shuffle = (lanes: number[]): number[] => [0xfd, 0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
  const at = (base: number, stride: number, k: number): number[] => (k === 0 ? get(base) : [...get(base), ...get(stride), ...i32(k), I32_MUL, I32_ADD]);
  return [
    ...get(COLS), ...i32(2), I32_SHL, ...set(RS),
    ...get(ROWS), ...i32(2), I32_SHL, ...set(CS),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(R), ...get(ROWS), I32_GE_U, BR_IF, 1,
    ...i32(0), ...set(C),
    BLOCK, EMPTY, LOOP, EMPTY,
    ...get(C), ...get(COLS), I32_GE_U, BR_IF, 1,
    // P4 = src + (r * cols + c) * 4: rows r .. r + 3 from column c
    ...get(SRC), ...get(R), ...get(COLS), I32_MUL, ...get(C), I32_ADD, ...i32(2), I32_SHL, I32_ADD, ...set(P4),
    ...ROW.flatMap((v, k) => [...at(P4, RS, k), ...V128_LOAD, ...mem(4, 0), ...set(v)]),
    // (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3)
    ...get(ROW[0]), ...get(ROW[1]), ...shuffle([0, 4, 1, 5]), ...set(T[0]),
    ...get(ROW[0]), ...get(ROW[1]), ...shuffle([2, 6, 3, 7]), ...set(T[1]),
    ...get(ROW[2]), ...get(ROW[3]), ...shuffle([0, 4, 1, 5]), ...set(T[2]),
    ...get(ROW[2]), ...get(ROW[3]), ...shuffle([2, 6, 3, 7]), ...set(T[3]),
    // Q = dst + (c * rows + r) * 4; columns c .. c + 3 are (a_k b_k c_k d_k)
    ...get(DST), ...get(C), ...get(ROWS), I32_MUL, ...get(R), I32_ADD, ...i32(2), I32_SHL, I32_ADD, ...set(Q),
    ...at(Q, CS, 0), ...get(T[0]), ...get(T[2]), ...shuffle([0, 1, 4, 5]), ...V128_STORE, ...mem(4, 0),
    ...at(Q, CS, 1), ...get(T[0]), ...get(T[2]), ...shuffle([2, 3, 6, 7]), ...V128_STORE, ...mem(4, 0),
    ...at(Q, CS, 2), ...get(T[1]), ...get(T[3]), ...shuffle([0, 1, 4, 5]), ...V128_STORE, ...mem(4, 0),
    ...at(Q, CS, 3), ...get(T[1]), ...get(T[3]), ...shuffle([2, 3, 6, 7]), ...V128_STORE, ...mem(4, 0),
    ...get(C), ...i32(4), I32_ADD, ...set(C),
    BR, 0,
    END, END,
    ...get(R), ...i32(4), I32_ADD, ...set(R),
    BR, 0,
    END, END,
  ];
}

/** `spmm(offsets, inputs, values, bias, outUnits, x, y, stride, slope)` (see the file comment). */
export function spmmFunction(): AsmFunction {
  // Locals J .. Y_ROW are i32, W .. SLOPE_V are v128.
  return { name: 'spmm', params: [I32, I32, I32, I32, I32, I32, I32, I32, F32], locals: [[Y_ROW - J + 1, I32], [SLOPE_V - W + 1, V128]], body: spmmBody() };
}

/** `transpose(src, rows, cols, dst)` (see the file comment). */
export function transposeFunction(): AsmFunction {
  return { name: 'transpose', params: [I32, I32, I32, I32], locals: [[6, I32], [8, V128]], body: transposeBody() };
}

/** An instance's memory: its bytes, grown in 64 KiB pages. */
export type SpmmMemory = AsmMemoryObject;

/** The module's exports, as one instance (with its own memory) sees them. */
export interface SpmmExports {
  readonly memory: SpmmMemory;
  readonly spmm: (offsets: number, inputs: number, values: number, bias: number, outUnits: number, x: number, y: number, stride: number, slope: number) => void;
  /** `src` [rows][cols] into `dst` [cols][rows] (f32, byte offsets; rows and cols multiples of 4). */
  readonly transpose: (src: number, rows: number, cols: number, dst: number) => void;
}

let compiled: object | undefined;

/** A new instance of the module (`spmm`, `transpose` and its own memory), compiled once per process. */
export function instantiateSpmm(): SpmmExports {
  compiled ??= compileModule(moduleBytes([spmmFunction(), transposeFunction()], { kind: 'own' }));
  return instantiateModule<SpmmExports>(compiled);
}
