/**
 * JSON tensors of `POST /v1/predict`: `{ "tensor": number[] | number[][] ..., "shape"?: number[] }`.
 * One sample has the model's input shape (or the same values flat, or with
 * size-1 axes dropped); a batch adds a leading axis.
 */
import { shapeSize } from '../serving/types.ts';
import { httpError } from './errors.ts';
import { excerpt, excerptKeys } from './excerpt.ts';

/** A request's samples, row-major. */
export interface TensorBatch {
  /** `n * prod(inputShape)` values. */
  batch: Float32Array;
  /** Number of samples. */
  n: number;
  /** True when the request had a batch axis (the answer lists predictions). */
  batched: boolean;
  /** Shape as sent (given or inferred from the nesting). */
  shape: number[];
}

const ALLOWED_KEYS = new Set(['tensor', 'shape']);

/**
 * Most axes a JSON tensor may have: a batch of the deepest input with room for
 * size-1 axes. The nesting is measured without recursion and checked before the
 * values are walked, so a body nested thousands deep is a 400, not a stack overflow.
 */
export const MAX_TENSOR_AXES = 32;

/** The largest finite float32: a larger JSON number would become Infinity in the model's input. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Why one value of a tensor is refused, with the value as sent (a number beyond float64 parses as Infinity). */
function badValueMessage(where: string, v: unknown): string {
  if (typeof v !== 'number') return `${where} is ${excerpt(v)}, not a finite number`;
  if (!Number.isFinite(v)) return `${where} is ${String(v)} (NaN, or a number beyond float64's range), not a finite number`;
  return `${where} is ${String(v)}, outside float32's range (+-${FLOAT32_MAX.toExponential(4)}): the model computes in float32`;
}

/** Reads `{ "tensor", "shape"? }`: the values (at most `maxValues`) and their shape (given, or the nesting). */
function readTensor(body: unknown, maxValues: number, expected: readonly number[]): { values: Float32Array; shape: number[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR', 'JSON body must be an object { "tensor": [...], "shape"?: [...] }', { got: Array.isArray(body) ? 'array' : typeof body });
  }
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !ALLOWED_KEYS.has(k));
  if (unknown.length > 0) {
    const keys = excerptKeys(unknown);
    throw httpError('BONSAI_HTTP_BAD_TENSOR', `unknown key(s) ${keys.text}; allowed: "tensor", "shape"`, { unknownKeys: keys.shown, unknownCount: keys.count });
  }
  if (!('tensor' in record)) throw httpError('BONSAI_HTTP_BAD_TENSOR', 'missing "tensor"');
  const given = record.shape === undefined ? undefined : parseShape(record.shape);
  const { values, shape: nested } = flatten(record.tensor, maxValues);
  if (given === undefined) return { values, shape: nested };
  if (shapeSize(given) !== values.length) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `"shape" [${given.join(', ')}] needs ${shapeSize(given)} values, "tensor" has ${values.length}`, { expected: [...expected], actual: given, values: values.length });
  }
  if (nested.length > 1 && !sameShape(nested, given)) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `"shape" [${given.join(', ')}] differs from the nesting of "tensor" [${nested.join(', ')}]`, { expected: given, actual: nested });
  }
  return { values, shape: given };
}

/** Parses and checks a JSON tensor body against a model's per-sample `inputShape`. */
export function parseTensorBody(body: unknown, inputShape: readonly number[], maxBatch: number): TensorBatch {
  const { values, shape } = readTensor(body, maxBatch * shapeSize(inputShape), inputShape);
  const { n, batched } = resolveBatch(shape, inputShape);
  if (n < 1) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', 'the batch is empty', { expected: [...inputShape], actual: shape });
  }
  if (n > maxBatch) {
    throw httpError('BONSAI_HTTP_BATCH_TOO_LARGE', `batch of ${n} samples exceeds the limit of ${maxBatch}`, { n, maxBatch });
  }
  return { batch: values, n, batched, shape };
}

/** Utterances of a JSON tensor body for a speech model. */
export interface UtteranceBatch {
  /** Each utterance's features, frames x width, row-major. */
  utterances: Float32Array[];
  /** True when the request had a batch axis (the answer lists predictions). */
  batched: boolean;
  shape: number[];
}

/**
 * Parses a JSON tensor body of MFCC frames for a speech model whose frames are
 * `width` wide: one utterance `[frames, width]` (or its values flat), or a batch
 * of utterances of equal length `[n, frames, width]`; at most `maxValues` values.
 */
export function parseUtteranceBody(body: unknown, width: number, maxBatch: number, maxValues: number): UtteranceBatch {
  const expected = ['frames', width];
  const { values, shape } = readTensor(body, maxValues, [width]);
  const bad = (): never => {
    throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `tensor shape [${shape.join(', ')}] does not fit the speech model's frames of ${width} features; send [frames, ${width}], its ${width} x frames values flat, or a batch [n, frames, ${width}]`, { expected, actual: [...shape] });
  };
  let n: number;
  let batched: boolean;
  if (shape.length === 1 && shape[0] > 0 && shape[0] % width === 0) [n, batched] = [1, false];
  else if (shape.length === 2 && shape[0] > 0 && shape[1] === width) [n, batched] = [1, false];
  else if (shape.length === 3 && shape[0] > 0 && shape[1] > 0 && shape[2] === width) [n, batched] = [shape[0], true];
  else return bad();
  if (n > maxBatch) {
    throw httpError('BONSAI_HTTP_BATCH_TOO_LARGE', `batch of ${n} utterances exceeds the limit of ${maxBatch}`, { n, maxBatch });
  }
  const size = values.length / n;
  return { utterances: Array.from({ length: n }, (_, i) => values.subarray(i * size, (i + 1) * size)), batched, shape };
}

/** Number of samples in `shape` for a model taking `inputShape`, or throws `BONSAI_HTTP_BAD_TENSOR_SHAPE`. */
export function resolveBatch(shape: readonly number[], inputShape: readonly number[]): { n: number; batched: boolean } {
  const size = shapeSize(inputShape);
  const rest = shape.slice(1);
  if (sameShape(shape, inputShape)) return { n: 1, batched: false };
  if (shape.length === inputShape.length + 1 && sameShape(rest, inputShape)) return { n: shape[0], batched: true };
  if (shape.length === 1 && shape[0] === size) return { n: 1, batched: false };
  if (shape.length === 2 && shape[1] === size) return { n: shape[0], batched: true };
  if (sameShape(squeeze(shape), squeeze(inputShape))) return { n: 1, batched: false };
  if (shape.length >= 2 && sameShape(squeeze(rest), squeeze(inputShape))) return { n: shape[0], batched: true };
  const expected = `[${inputShape.join(', ')}]`;
  throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `tensor shape [${shape.join(', ')}] does not fit the model input ${expected}; send ${expected}, [${size}], or a batch [n, ${inputShape.join(', ')}]`, {
    expected: [...inputShape],
    actual: [...shape],
  });
}

function parseShape(raw: unknown): number[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_TENSOR_AXES || !raw.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    const length = Array.isArray(raw) ? { axes: raw.length } : {};
    throw httpError('BONSAI_HTTP_BAD_TENSOR', `"shape" must be an array of 1 to ${MAX_TENSOR_AXES} non-negative integers, got ${excerpt(raw)}`, { shape: excerpt(raw), ...length, maxAxes: MAX_TENSOR_AXES });
  }
  return raw as number[];
}

/** Flattens a rectangular nested array of at most `maxValues` finite numbers; reports the first irregularity. */
function flatten(tensor: unknown, maxValues: number): { values: Float32Array; shape: number[] } {
  const shape: number[] = [];
  let probe: unknown = tensor;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe.length > 0 ? probe[0] : undefined;
  }
  if (shape.length === 0) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR', '"tensor" must be an array of numbers (nested arrays for more axes)', { got: typeof tensor });
  }
  if (shape.length > MAX_TENSOR_AXES) {
    throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `tensor is nested ${shape.length} deep (${shape.length} axes); a tensor may have at most ${MAX_TENSOR_AXES} axes`,
      { axes: shape.length, maxAxes: MAX_TENSOR_AXES });
  }
  // The nesting of the first elements fixes the shape; check its size before allocating.
  const total = shapeSize(shape);
  if (total > maxValues) {
    throw httpError('BONSAI_HTTP_BATCH_TOO_LARGE', `tensor of shape [${shape.join(', ')}] has ${total} values, more than the ${maxValues} of a full batch`, { shape, maxValues });
  }
  const values = new Float32Array(total);
  let k = 0;
  const index: number[] = [];
  const at = (): string => index.map((i) => `[${i}]`).join('');
  const last = shape.length - 1;
  const walk = (node: unknown, depth: number): void => {
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `${node.length} entries` : typeof node;
      throw httpError('BONSAI_HTTP_BAD_TENSOR_SHAPE', `tensor is ragged: tensor${at()} has ${got}, expected ${shape[depth]} like tensor${'[0]'.repeat(depth)}`, { path: at(), expected: shape[depth] });
    }
    index.push(0);
    if (depth === last) {
      // Innermost axis: the numbers themselves (the hot loop).
      for (let i = 0; i < node.length; i++) {
        const v: unknown = node[i];
        if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > FLOAT32_MAX) {
          index[depth] = i;
          throw httpError('BONSAI_HTTP_BAD_TENSOR', badValueMessage(`tensor${at()}`, v), { path: at(), value: typeof v === 'number' ? String(v) : excerpt(v) });
        }
        values[k++] = v;
      }
    } else {
      for (let i = 0; i < node.length; i++) {
        index[depth] = i;
        walk(node[i], depth + 1);
      }
    }
    index.pop();
  };
  walk(tensor, 0);
  return { values, shape };
}

function squeeze(shape: readonly number[]): number[] {
  return shape.filter((d) => d !== 1);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
