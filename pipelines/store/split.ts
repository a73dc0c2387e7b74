/**
 * Deterministic train/validation/test assignment from a sample's content hash.
 *
 * The first 8 hex digits of the SHA-256 id, read as an unsigned 32-bit integer
 * and divided by 2^32, give a number u in [0, 1) that is uniform over contents;
 * u < train goes to train, u < train + validation to validation, the rest to
 * test. The same bytes always land in the same split, on every machine and after
 * every restart, so a test sample can never leak into training by re-arrival.
 */
import { BonsaiError } from '../../core/errors.ts';

/** The three splits a sample can belong to. */
export type Split = 'train' | 'validation' | 'test';

/** All splits, in a fixed order. */
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

/** Fractions of the content space given to each split; they sum to 1. */
export interface SplitRatios {
  /** Fraction of samples used for training. */
  train: number;
  /** Fraction held out for model selection (promotion decisions). */
  validation: number;
  /** Fraction held out for reporting. */
  test: number;
}

/** 80 / 10 / 10. */
export const DEFAULT_SPLIT_RATIOS: Readonly<SplitRatios> = Object.freeze({ train: 0.8, validation: 0.1, test: 0.1 });

/** Throws `BONSAI_STORE_BAD_SPLIT_RATIOS` unless every ratio is in [0, 1] and they sum to 1. */
export function checkSplitRatios(ratios: SplitRatios): void {
  const values = [ratios.train, ratios.validation, ratios.test];
  const sum = values.reduce((a, b) => a + b, 0);
  if (!values.every((v) => Number.isFinite(v) && v >= 0 && v <= 1) || Math.abs(sum - 1) > 1e-9) {
    throw new BonsaiError('BONSAI_STORE_BAD_SPLIT_RATIOS', `split ratios must be in [0, 1] and sum to 1, got train ${ratios.train}, validation ${ratios.validation}, test ${ratios.test} (sum ${sum})`, { ...ratios, sum });
  }
}

/** The split of the sample whose SHA-256 hex id is `id`. */
export function splitOf(id: string, ratios: SplitRatios = DEFAULT_SPLIT_RATIOS): Split {
  if (!/^[0-9a-f]{8}/.test(id)) throw new BonsaiError('BONSAI_STORE_BAD_ID', `sample id must be SHA-256 hex, got ${JSON.stringify(id)}`, { id });
  const u = Number.parseInt(id.slice(0, 8), 16) / 2 ** 32;
  if (u < ratios.train) return 'train';
  // `test === 0` guards against the rounding of train + validation just below 1.
  if (u < ratios.train + ratios.validation || ratios.test === 0) return 'validation';
  return 'test';
}
