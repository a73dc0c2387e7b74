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

// Value types and instruction opcodes used below (spec section 5.3 and 5.4).
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const BLOCK = 0x02;
const LOOP = 0x03;
const EMPTY = 0x40;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const GET = 0x20;
const SET = 0x21;
const TEE = 0x22;
const I32_LOAD = 0x28;
const F32_LOAD = 0x2a;
const I32_CONST = 0x41;
const F32_CONST = 0x43;
const I32_LT_U = 0x49;
const IF = 0x04;
const I32_GE_U = 0x4f;
const I32_GT_U = 0x4b;
const I32_ADD = 0x6a;
const I32_MUL = 0x6c;
const I32_SHL = 0x74;
/** SIMD instructions: the 0xfd prefix, then the opcode as unsigned LEB128. */
const V128_LOAD = [0xfd, 0x00];
const V128_STORE = [0xfd, 0x0b];
const F32X4_SPLAT = [0xfd, 0x13];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
const F32X4_MAX = [0xfd, 0xe9, 0x01];

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

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a small constant (-64 .. 8191 is all this file needs). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

/** A length-prefixed vector or section body. */
const sized = (bytes: number[]): number[] => [...uleb(bytes.length), ...bytes];
const get = (i: number): number[] => [GET, i];
const set = (i: number): number[] => [SET, i];
const i32 = (n: number): number[] => [I32_CONST, ...sleb(n)];
const f32 = (v: number): number[] => [F32_CONST, ...new Uint8Array(Float32Array.of(v).buffer)];
/** memarg: alignment exponent, then offset. */
const mem = (align: number, offset: number): number[] => [align, ...uleb(offset)];

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
    END,
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
    END,
  ];
}

/** The module: the functions `spmm` and `transpose` and one memory, all exported. */
function moduleBytes(): Uint8Array {
  const name = (s: string): number[] => sized([...Buffer.from(s, 'utf8')]);
  const section = (id: number, body: number[]): number[] => [id, ...sized(body)];
  const params = [I32, I32, I32, I32, I32, I32, I32, I32, F32];
  // Locals J .. Y_ROW are i32, W .. SLOPE_V are v128.
  const locals = [...uleb(2), ...uleb(Y_ROW - J + 1), I32, ...uleb(SLOPE_V - W + 1), V128];
  // transpose: 6 i32 locals, then 8 v128.
  const transposeLocals = [...uleb(2), 6, I32, 8, V128];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    // type 0: (params) -> (); type 1: (i32 x 4) -> ()
    ...section(1, [2, 0x60, ...sized(params), 0, 0x60, ...sized([I32, I32, I32, I32]), 0]),
    ...section(3, [2, 0, 1]), // function 0 has type 0, function 1 type 1
    ...section(5, [1, 0x00, 1]), // memory 0: at least one 64 KiB page, no maximum
    ...section(7, [3, ...name('spmm'), 0x00, 0, ...name('transpose'), 0x00, 1, ...name('memory'), 0x02, 0]),
    ...section(10, [2, ...sized([...locals, ...spmmBody()]), ...sized([...transposeLocals, ...transposeBody()])]),
  ]);
}

/**
 * The members of the global `WebAssembly` used here (tsconfig's ES2022 library
 * and @types/node 20 do not declare it).
 */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** An instance's memory: its bytes, grown in 64 KiB pages. */
export interface SpmmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The module's exports, as one instance (with its own memory) sees them. */
export interface SpmmExports {
  readonly memory: SpmmMemory;
  readonly spmm: (offsets: number, inputs: number, values: number, bias: number, outUnits: number, x: number, y: number, stride: number, slope: number) => void;
  /** `src` [rows][cols] into `dst` [cols][rows] (f32, byte offsets; rows and cols multiples of 4). */
  readonly transpose: (src: number, rows: number, cols: number, dst: number) => void;
}

let compiled: object | undefined;

/** A new instance of the module, compiled once per process. */
export function instantiateSpmm(): SpmmExports {
  compiled ??= new wasmApi.Module(moduleBytes());
  return new wasmApi.Instance(compiled, {}).exports as SpmmExports;
}
