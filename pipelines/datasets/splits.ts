/**
 * How a training set is divided for the incremental-learning experiments of
 * the paper (Dai, Yin, Jha, section 5.1): a seeded random hold-out for
 * validation, the rest split at random into equal parts that arrive one at a
 * time; and class-incremental stages as in its Fig. 4.
 */
import { BonsaiError } from '../../core/errors.ts';
import { makeDataset, permutation, sampleSize, seededRandom, type Dataset } from '../../core/index.ts';

/** Options of `holdoutSplit`. */
export interface HoldoutSplitArgs {
  /** Seed of the random permutation; equal seeds give equal splits. */
  seed: number;
  /** Samples held out for validation (paper: 5,000 of MNIST's 60,000). */
  validation: number;
  /** Number of parts the rest is split into (paper: 10). */
  parts: number;
}

/** Indices into the source set; disjoint, together a permutation of 0..n-1. */
export interface HoldoutIndices {
  /** Indices of the validation samples. */
  validation: Int32Array;
  /** Indices of each part. Sizes differ by at most one: the first `(n - validation) % parts` parts have one more. */
  parts: Int32Array[];
}

/**
 * Splits `n` sample indices: a random permutation (seeded), its first
 * `validation` entries held out, the remainder cut into `parts` consecutive
 * runs of equal size.
 */
export function holdoutSplit(n: number, args: HoldoutSplitArgs): HoldoutIndices {
  const { seed, validation, parts } = args;
  if (!Number.isInteger(n) || n < 0) throw new BonsaiError('BONSAI_DATA_BAD_ARGUMENT', `sample count must be a non-negative integer, got ${n}`, { n });
  if (!Number.isInteger(validation) || validation < 0 || !Number.isInteger(parts) || parts < 1 || validation + parts > n) {
    throw new BonsaiError('BONSAI_DATA_SPLIT_INVALID', `cannot hold out ${validation} of ${n} samples and split the rest into ${parts} non-empty parts`, { n, validation, parts });
  }
  const order = permutation(n, seededRandom(seed));
  const rest = n - validation;
  const base = Math.floor(rest / parts);
  const extra = rest % parts;
  const out: Int32Array[] = [];
  let at = validation;
  for (let p = 0; p < parts; p++) {
    const size = base + (p < extra ? 1 : 0);
    out.push(order.subarray(at, at + size));
    at += size;
  }
  return { validation: order.subarray(0, validation), parts: out };
}

/**
 * The samples whose label is one of `classes`, in their original order and
 * with their original labels (new arrays). For the class-incremental scenario
 * of the paper's Fig. 4.
 */
export function filterClasses(ds: Dataset, classes: readonly number[]): Dataset {
  const wanted = new Set(classes);
  const d = sampleSize(ds.shape);
  let count = 0;
  for (let i = 0; i < ds.n; i++) if (wanted.has(ds.y[i])) count++;
  const x = new Float32Array(count * d);
  const y = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < ds.n; i++) {
    if (!wanted.has(ds.y[i])) continue;
    x.set(ds.x.subarray(i * d, (i + 1) * d), at * d);
    y[at] = ds.y[i];
    at++;
  }
  return makeDataset(x, y, ds.shape);
}

/** Classes added at each stage of the paper's Fig. 4: first digits 1 and 2, then 0, then 6, then 7. */
export const FIG4_CLASS_STAGES: readonly (readonly number[])[] = Object.freeze([
  Object.freeze([1, 2]), Object.freeze([0]), Object.freeze([6]), Object.freeze([7]),
]);

/** One stage of a class-incremental scenario. */
export interface ClassStage {
  /** Classes introduced at this stage. */
  added: number[];
  /** All classes seen so far, this stage included. */
  classes: number[];
  /** Samples of the classes introduced at this stage (the "new data"). */
  newData: Dataset;
  /** Samples of all classes seen so far (the "all data"). */
  allData: Dataset;
}

/** The class-incremental stages of `ds` (default: the order of Fig. 4). */
export function classIncrementalStages(ds: Dataset, stages: readonly (readonly number[])[] = FIG4_CLASS_STAGES): ClassStage[] {
  const seen: number[] = [];
  return stages.map((added) => {
    seen.push(...added);
    return { added: [...added], classes: [...seen], newData: filterClasses(ds, added), allData: filterClasses(ds, seen) };
  });
}
