/**
 * A tiny in-memory dataset: samples in one Float32Array, labels in one
 * Int32Array, and batches turned into tensors lazily, one batch at a time.
 *
 * Also the seeded random numbers every data step uses (shuffles, splits,
 * augmentation), so that a run is reproducible from its seed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';

/** Samples and labels held in flat typed arrays. */
export interface Dataset {
  /** `n * prod(shape)` values, sample after sample, row-major. */
  x: Float32Array;
  /** `n` integer class labels. */
  y: Int32Array;
  /** Shape of one sample, e.g. `[28, 28, 1]` for MNIST. */
  shape: number[];
  /** Number of samples. */
  n: number;
}

/** One batch as tensors; the caller owns both and disposes them. */
export interface Batch {
  /** Samples, shape `[size, ...shape]`, float32. */
  x: tf.Tensor;
  /** Labels, shape `[size]`, int32. */
  y: tf.Tensor1D;
  /** Number of samples in this batch (the last one may be smaller). */
  size: number;
}

/** Options of `shuffledBatches` and `orderedBatches`. */
export interface BatchOptions {
  /** Skip a last batch smaller than `batchSize` (default false). */
  dropRemainder?: boolean;
}

/** Values in one sample of `shape`. */
export function sampleSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Builds a dataset and checks that the arrays match the shape:
 * `x.length === n * prod(shape)` and `y.length === n`.
 */
export function makeDataset(x: Float32Array, y: Int32Array, shape: readonly number[]): Dataset {
  if (shape.length === 0 || shape.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new BonsaiError('BONSAI_DATA_DATASET_SHAPE', `sample shape [${shape.join(', ')}] must be a non-empty list of positive integers`, { shape: [...shape] });
  }
  const d = sampleSize(shape);
  const n = y.length;
  if (x.length !== n * d) {
    throw new BonsaiError('BONSAI_DATA_DATASET_SHAPE', `${n} labels of samples shaped [${shape.join(', ')}] need ${n * d} values, but x has ${x.length}`, { n, shape: [...shape], xLength: x.length, expected: n * d });
  }
  return { x, y, shape: [...shape], n };
}

/** Checks a dataset built by hand (e.g. an object literal) for consistent sizes. */
export function checkDataset(ds: Dataset): void {
  const d = sampleSize(ds.shape);
  if (ds.y.length !== ds.n || ds.x.length !== ds.n * d) {
    throw new BonsaiError('BONSAI_DATA_DATASET_SHAPE', `dataset says n=${ds.n} samples of [${ds.shape.join(', ')}] but has ${ds.y.length} labels and ${ds.x.length} values (expected ${ds.n * d})`, { n: ds.n, shape: ds.shape, xLength: ds.x.length, yLength: ds.y.length });
  }
}

/** The same samples seen with another sample shape of equal size (e.g. [28,28,1] -> [784]); shares the arrays. */
export function reshapeSamples(ds: Dataset, shape: readonly number[]): Dataset {
  if (sampleSize(shape) !== sampleSize(ds.shape)) {
    throw new BonsaiError('BONSAI_DATA_DATASET_SHAPE', `cannot view samples of [${ds.shape.join(', ')}] as [${shape.join(', ')}]: ${sampleSize(ds.shape)} vs ${sampleSize(shape)} values`, { from: ds.shape, to: [...shape] });
  }
  return makeDataset(ds.x, ds.y, shape);
}

/** Samples `[start, end)` as a view that shares the arrays (no copy). */
export function slice(ds: Dataset, start: number, end: number = ds.n): Dataset {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > ds.n || start > end) {
    throw new BonsaiError('BONSAI_DATA_INDEX_OUT_OF_RANGE', `slice [${start}, ${end}) is outside [0, ${ds.n}]`, { start, end, n: ds.n });
  }
  const d = sampleSize(ds.shape);
  return { x: ds.x.subarray(start * d, end * d), y: ds.y.subarray(start, end), shape: [...ds.shape], n: end - start };
}

/** All samples of the given datasets, in order, in new arrays. The sample shapes must be equal. */
export function concat(...parts: Dataset[]): Dataset {
  if (parts.length === 0) throw new BonsaiError('BONSAI_DATA_BAD_ARGUMENT', 'concat needs at least one dataset', {});
  const shape = parts[0].shape;
  for (const p of parts) {
    if (p.shape.length !== shape.length || p.shape.some((s, i) => s !== shape[i])) {
      throw new BonsaiError('BONSAI_DATA_DATASET_SHAPE', `cannot concatenate samples of [${p.shape.join(', ')}] with samples of [${shape.join(', ')}]`, { shapes: parts.map((q) => q.shape) });
    }
  }
  const n = parts.reduce((a, p) => a + p.n, 0);
  const d = sampleSize(shape);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    x.set(p.x.subarray(0, p.n * d), at * d);
    y.set(p.y.subarray(0, p.n), at);
    at += p.n;
  }
  return { x, y, shape: [...shape], n };
}

/** The samples at `indices`, in that order, in new arrays. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const d = sampleSize(ds.shape);
  const x = new Float32Array(indices.length * d);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.n) {
      throw new BonsaiError('BONSAI_DATA_INDEX_OUT_OF_RANGE', `index ${j} (position ${i}) is outside [0, ${ds.n})`, { index: j, position: i, n: ds.n });
    }
    x.set(ds.x.subarray(j * d, (j + 1) * d), i * d);
    y[i] = ds.y[j];
  }
  return { x, y, shape: [...ds.shape], n: indices.length };
}

/** Number of batches `shuffledBatches`/`orderedBatches` yield for `n` samples. */
export function countBatches(n: number | Dataset, batchSize: number, options: BatchOptions = {}): number {
  const count = typeof n === 'number' ? n : n.n;
  checkBatchSize(batchSize);
  return options.dropRemainder === true ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/**
 * Batches in a random order drawn from `seed` (a fresh permutation per call;
 * pass `seed + epoch` for a new order each epoch). Each batch's tensors are
 * created when the iterator reaches it; the caller disposes them. Stopping
 * early leaves nothing behind.
 */
export function* shuffledBatches(ds: Dataset, batchSize: number, seed: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  yield* batchesInOrder(ds, permutation(ds.n, seededRandom(seed)), batchSize, options);
}

/** Batches in sample order (for evaluation); tensors created lazily, caller disposes. */
export function* orderedBatches(ds: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  const order = new Int32Array(ds.n);
  for (let i = 0; i < ds.n; i++) order[i] = i;
  yield* batchesInOrder(ds, order, batchSize, options);
}

function* batchesInOrder(ds: Dataset, order: Int32Array, batchSize: number, options: BatchOptions): Generator<Batch, void, undefined> {
  checkDataset(ds);
  const total = countBatches(ds.n, batchSize, options);
  const d = sampleSize(ds.shape);
  for (let b = 0; b < total; b++) {
    const start = b * batchSize;
    const size = Math.min(batchSize, ds.n - start);
    // A fresh array per batch: backends may keep a reference to the array a
    // tensor was made from (the cpu backend does), so a reused buffer would
    // change tensors already handed out.
    const x = new Float32Array(size * d);
    const y = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const j = order[start + i];
      x.set(ds.x.subarray(j * d, (j + 1) * d), i * d);
      y[i] = ds.y[j];
    }
    yield { x: tf.tensor(x, [size, ...ds.shape], 'float32'), y: tf.tensor1d(y, 'int32'), size };
  }
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new BonsaiError('BONSAI_DATA_BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`, { batchSize });
  }
}

/**
 * A seeded uniform generator in [0, 1): mulberry32 (a 32-bit state,
 * period 2^32), ample for shuffles and augmentation draws. Equal seeds give
 * equal streams; the seed is taken modulo 2^32.
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new BonsaiError('BONSAI_DATA_BAD_ARGUMENT', `seed must be a finite number, got ${seed}`, { seed });
  let state = Math.floor(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates with `random`). */
export function permutation(n: number, random: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
