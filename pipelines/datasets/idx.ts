/**
 * A small parser for the IDX file format, in which MNIST is distributed
 * (LeCun, Cortes, Burges, "The MNIST database of handwritten digits",
 * http://yann.lecun.com/exdb/mnist/).
 *
 * Layout: two zero bytes, one dtype byte, one byte with the number of
 * dimensions, then one big-endian uint32 per dimension, then the data in
 * big-endian, row-major order. The byte length must match the sizes exactly.
 */
import { BonsaiError } from '../../core/errors.ts';

/** Element types an IDX file may hold. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array that holds each dtype. */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX array. */
export interface IdxArray {
  /** Element type named by the dtype byte. */
  dtype: IdxDtype;
  /** Dimensions from the header, outermost first (e.g. [60000, 28, 28]). */
  shape: number[];
  /** Elements in row-major order, in native byte order. For `uint8` it is a view of the input bytes. */
  data: IdxData;
}

interface DtypeInfo {
  dtype: IdxDtype;
  bytes: number;
}

/** The dtype byte (third byte of the magic number) and what it means. */
const DTYPES: ReadonlyMap<number, DtypeInfo> = new Map([
  [0x08, { dtype: 'uint8', bytes: 1 }],
  [0x09, { dtype: 'int8', bytes: 1 }],
  [0x0b, { dtype: 'int16', bytes: 2 }],
  [0x0c, { dtype: 'int32', bytes: 4 }],
  [0x0d, { dtype: 'float32', bytes: 4 }],
  [0x0e, { dtype: 'float64', bytes: 8 }],
]);

/** More dimensions than any sensible IDX file has; guards against a garbage rank byte. */
const MAX_RANK = 16;

/**
 * Parses an IDX buffer. `source` names the file in error messages.
 * Throws `BONSAI_DATA_IDX_*` errors on a bad magic number, an unknown dtype,
 * a bad rank, truncated data or trailing bytes.
 */
export function parseIdx(bytes: Uint8Array, source = '<buffer>'): IdxArray {
  if (bytes.byteLength < 4) {
    throw new BonsaiError('BONSAI_DATA_IDX_TRUNCATED', `${source}: ${bytes.byteLength} bytes is shorter than the 4-byte IDX magic number`, { source, byteLength: bytes.byteLength, expected: 4 });
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new BonsaiError('BONSAI_DATA_IDX_BAD_MAGIC', `${source}: magic number 0x${magic} does not start with two zero bytes; not an IDX file`, { source, magic: `0x${magic}` });
  }
  const info = DTYPES.get(bytes[2]);
  if (info === undefined) {
    throw new BonsaiError('BONSAI_DATA_IDX_BAD_DTYPE', `${source}: unknown IDX dtype byte 0x${bytes[2].toString(16).padStart(2, '0')} (known: 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e)`, { source, dtypeByte: bytes[2] });
  }
  const rank = bytes[3];
  if (rank < 1 || rank > MAX_RANK) {
    throw new BonsaiError('BONSAI_DATA_IDX_BAD_RANK', `${source}: IDX rank ${rank} is outside 1..${MAX_RANK}`, { source, rank });
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.byteLength < headerBytes) {
    throw new BonsaiError('BONSAI_DATA_IDX_TRUNCATED', `${source}: ${bytes.byteLength} bytes is shorter than the ${headerBytes}-byte header of a rank-${rank} IDX file`, { source, byteLength: bytes.byteLength, expected: headerBytes });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * info.bytes;
  if (bytes.byteLength < expected) {
    throw new BonsaiError('BONSAI_DATA_IDX_TRUNCATED', `${source}: header says shape [${shape.join(', ')}] of ${info.dtype} (${expected} bytes with header), but the data has ${bytes.byteLength} bytes`, { source, shape, dtype: info.dtype, byteLength: bytes.byteLength, expected });
  }
  if (bytes.byteLength > expected) {
    throw new BonsaiError('BONSAI_DATA_IDX_TRAILING_BYTES', `${source}: header says shape [${shape.join(', ')}] of ${info.dtype} (${expected} bytes with header), but the data has ${bytes.byteLength} bytes (${bytes.byteLength - expected} extra)`, { source, shape, dtype: info.dtype, byteLength: bytes.byteLength, expected });
  }
  return { dtype: info.dtype, shape, data: readElements(view, headerBytes, count, info.dtype, bytes) };
}

/** Reads `count` big-endian elements starting at `offset`. */
function readElements(view: DataView, offset: number, count: number, dtype: IdxDtype, bytes: Uint8Array): IdxData {
  switch (dtype) {
    case 'uint8':
      return bytes.subarray(offset, offset + count);
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Builds an IDX buffer (the inverse of `parseIdx`); used to write fixtures
 * and small subsets of MNIST.
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const entry = [...DTYPES.entries()].find(([, v]) => v.dtype === array.dtype);
  if (entry === undefined) throw new BonsaiError('BONSAI_DATA_IDX_BAD_DTYPE', `unknown IDX dtype ${String(array.dtype)}`, { dtype: array.dtype });
  const [code, info] = entry;
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new BonsaiError('BONSAI_DATA_IDX_COUNT_MISMATCH', `shape [${array.shape.join(', ')}] holds ${count} elements but the data has ${array.data.length}`, { shape: array.shape, length: array.data.length });
  }
  const rank = array.shape.length;
  if (rank < 1 || rank > MAX_RANK) throw new BonsaiError('BONSAI_DATA_IDX_BAD_RANK', `IDX rank ${rank} is outside 1..${MAX_RANK}`, { rank });
  const header = 4 + 4 * rank;
  const out = new Uint8Array(header + count * info.bytes);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = rank;
  array.shape.forEach((s, d) => view.setUint32(4 + 4 * d, s, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i];
    const at = header + i * info.bytes;
    switch (array.dtype) {
      case 'uint8': view.setUint8(at, v); break;
      case 'int8': view.setInt8(at, v); break;
      case 'int16': view.setInt16(at, v, false); break;
      case 'int32': view.setInt32(at, v, false); break;
      case 'float32': view.setFloat32(at, v, false); break;
      case 'float64': view.setFloat64(at, v, false); break;
    }
  }
  return out;
}
