/**
 * Just enough of a WebAssembly assembler for bonsai's small SIMD kernels
 * (core/sparse/spmm-wasm.ts, core/backend/heap-simd.ts): opcodes, LEB128, and a
 * module of functions over one memory, either the module's own or an imported
 * one. The binary format is the WebAssembly core specification, section 5; the
 * SIMD opcodes are its 0xfd-prefixed instructions and `memory.fill` the 0xfc one.
 */

// Value types and instruction opcodes (spec sections 5.3 and 5.4).
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const IF = 0x04;
export const EMPTY = 0x40;
export const END = 0x0b;
export const BR = 0x0c;
export const BR_IF = 0x0d;
export const GET = 0x20;
export const SET = 0x21;
export const TEE = 0x22;
export const I32_LOAD = 0x28;
export const F32_LOAD = 0x2a;
export const F32_STORE = 0x38;
export const I32_CONST = 0x41;
export const F32_CONST = 0x43;
export const I32_EQZ = 0x45;
export const I32_LT_U = 0x49;
export const I32_GT_U = 0x4b;
export const I32_GE_U = 0x4f;
export const I32_ADD = 0x6a;
export const I32_SUB = 0x6b;
export const I32_MUL = 0x6c;
export const I32_AND = 0x71;
export const I32_SHL = 0x74;
export const F32_ADD = 0x92;
export const F32_SUB = 0x93;
export const F32_MUL = 0x94;
/** SIMD instructions: the 0xfd prefix, then the opcode as unsigned LEB128. */
export const V128_LOAD = [0xfd, 0x00];
export const V128_STORE = [0xfd, 0x0b];
export const F32X4_SPLAT = [0xfd, 0x13];
export const F32X4_ADD = [0xfd, 0xe4, 0x01];
export const F32X4_SUB = [0xfd, 0xe5, 0x01];
export const F32X4_MUL = [0xfd, 0xe6, 0x01];
export const F32X4_MAX = [0xfd, 0xe9, 0x01];
/** `memory.fill` of memory 0 (bulk memory): dest, byte value, length. */
export const MEMORY_FILL = [0xfc, 0x0b, 0x00];
/** f32x4.extract_lane of `lane`. */
export const f32x4Lane = (lane: number): number[] => [0xfd, 0x1f, lane];

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit constant. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

/** A length-prefixed vector or section body. */
export const sized = (bytes: number[]): number[] => [...uleb(bytes.length), ...bytes];
export const get = (i: number): number[] => [GET, i];
export const set = (i: number): number[] => [SET, i];
export const i32 = (n: number): number[] => [I32_CONST, ...sleb(n)];
export const f32 = (v: number): number[] => [F32_CONST, ...new Uint8Array(Float32Array.of(v).buffer)];
/** memarg: alignment exponent, then offset. */
export const mem = (align: number, offset: number): number[] => [align, ...uleb(offset)];

/** `block loop (exit when `exit` is true) body br 0 end end`: a while loop. */
export function whileNot(exit: number[], body: number[]): number[] {
  return [BLOCK, EMPTY, LOOP, EMPTY, ...exit, BR_IF, 1, ...body, BR, 0, END, END];
}

/** One exported function: its parameters and locals (value types), and its body (without the final `end`). */
export interface AsmFunction {
  name: string;
  params: number[];
  /** Locals after the parameters, in runs of one type. */
  locals: Array<[count: number, type: number]>;
  body: number[];
}

/** Where the module's memory comes from: its own (exported as `memory`), or `env.memory` imported. */
export type AsmMemory = { kind: 'own' } | { kind: 'import'; shared: boolean };

/** Largest wasm32 memory in 64 KiB pages (a shared memory must declare a maximum). */
const MAX_PAGES = 65536;

/** The module's bytes: every function exported under its name. */
export function moduleBytes(functions: readonly AsmFunction[], memory: AsmMemory): Uint8Array {
  const name = (s: string): number[] => sized([...Buffer.from(s, 'utf8')]);
  const section = (id: number, body: number[]): number[] => [id, ...sized(body)];
  const types = functions.flatMap((f) => [0x60, ...sized(f.params), 0]);
  const exports = functions.flatMap((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const code = functions.flatMap((f) => sized([...uleb(f.locals.length), ...f.locals.flatMap(([count, type]) => [...uleb(count), type]), ...f.body, END]));
  const limits = memory.kind === 'import' && memory.shared ? [0x03, 0, ...uleb(MAX_PAGES)] : [0x00, 1];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [...uleb(functions.length), ...types]),
    ...(memory.kind === 'import' ? section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]) : []),
    ...section(3, [...uleb(functions.length), ...functions.flatMap((_, i) => uleb(i))]),
    ...(memory.kind === 'own' ? section(5, [1, ...limits]) : []),
    ...section(7, [...uleb(functions.length + (memory.kind === 'own' ? 1 : 0)), ...exports, ...(memory.kind === 'own' ? [...name('memory'), 0x02, 0] : [])]),
    ...section(10, [...uleb(functions.length), ...code]),
  ]);
}

/** A memory as wasm sees it: its bytes, grown in 64 KiB pages. */
export interface AsmMemoryObject {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
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

/** Compiles `bytes`. */
export function compileModule(bytes: Uint8Array): object {
  return new wasmApi.Module(bytes);
}

/** An instance of a compiled module; `memory` is the `env.memory` import where the module has one. */
export function instantiateModule<T>(compiled: object, memory?: AsmMemoryObject): T {
  return new wasmApi.Instance(compiled, memory ? { env: { memory } } : {}).exports as T;
}
