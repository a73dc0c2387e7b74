/**
 * Which stored samples an update reads, within a memory budget for their features
 * (`algorithm.trainingDataMegabytes`).
 *
 * The trainer holds an update's data in memory, and the store only grows: with no
 * bound, a daemon that has run long enough needs more memory for an update than its
 * machine or container has, and every update after that dies the same way. Within
 * the budget an update reads everything, as the paper's "all data". Beyond it:
 *
 * - training: every pending sample (the new data), plus a uniform random sample of the
 *   earlier ones (a replay buffer), drawn afresh each update with the update's snapshot
 *   as seed, so that over updates every sample is trained on again; when the new data
 *   alone exceed the budget, a uniform sample of them;
 * - validation and test: at most an eighth of the budget each, the first samples in
 *   content-hash order: a fixed pseudo-random subset that mixes labels and arrival times
 *   and changes little from one update to the next, so the gate and pruning decide on
 *   nearly the same samples each time.
 *
 * A sample's bytes are its float32 features as stored (the trainer's copy of them).
 */
import { permutation, seededRandom } from '../../core/index.ts';
import type { SampleListing, SampleStore, Split } from '../../pipelines/store/index.ts';

/** Share of the budget for each of validation and test. */
export const EVALUATION_SHARE = 1 / 8;

/** What was kept of one split. */
export interface SplitSelection {
  /** Samples read. */
  kept: number;
  /** Samples stored up to the snapshot. */
  of: number;
  /** Feature bytes read. */
  bytes: number;
}

/** The samples of an update when its data exceed the budget (`selectUpdateData`). */
export interface DataSelection {
  /** The budget, in bytes. */
  budgetBytes: number;
  /** Arrival numbers to read, per split; absent where the split is read whole. */
  seqs: Partial<Record<Split, ReadonlySet<number>>>;
  train: SplitSelection;
  validation: SplitSelection;
  test: SplitSelection;
}

function whole(list: readonly SampleListing[]): SplitSelection {
  return { kept: list.length, of: list.length, bytes: list.reduce((a, s) => a + s.bytes, 0) };
}

/** Takes samples from `list` in the order of `order` while they fit in `budget` bytes. */
function fill(list: readonly SampleListing[], order: ArrayLike<number>, budget: number, into: Set<number>): number {
  let used = 0;
  for (let k = 0; k < order.length; k++) {
    const s = list[order[k]];
    if (used + s.bytes > budget) break;
    used += s.bytes;
    into.add(s.seq);
  }
  return used;
}

/** What an update read of each split under the memory budget, as the child reports it (without the arrival numbers). */
export type DataSelectionReport = Omit<DataSelection, 'seqs'>;

/** The selection as the child reports it. */
export function selectionReport(s: DataSelection): DataSelectionReport {
  return { budgetBytes: s.budgetBytes, train: s.train, validation: s.validation, test: s.test };
}

/**
 * The samples an update with snapshot `upToSeq` reads within `budgetBytes` (null: no
 * bound); null when everything fits, which is the common case.
 */
export function selectUpdateData(store: SampleStore, upToSeq: number, budgetBytes: number | null): DataSelection | null {
  if (budgetBytes === null) return null;
  const train = store.list({ split: 'train', upToSeq });
  const validation = store.list({ split: 'validation', upToSeq, order: 'hash' });
  const test = store.list({ split: 'test', upToSeq, order: 'hash' });
  const evalBudget = budgetBytes * EVALUATION_SHARE;
  const fits = (list: readonly SampleListing[], budget: number): boolean => whole(list).bytes <= budget;
  if (fits(train, budgetBytes) && fits(validation, evalBudget) && fits(test, evalBudget)) return null;

  const seqs: DataSelection['seqs'] = {};
  const selection: DataSelection = { budgetBytes, seqs, train: whole(train), validation: whole(validation), test: whole(test) };
  if (!fits(train, budgetBytes)) {
    const random = seededRandom(upToSeq);
    const pending = train.filter((s) => s.pending);
    const earlier = train.filter((s) => !s.pending);
    const kept = new Set<number>();
    // The new data first (all of them when they fit), then the replay of earlier samples.
    const used = fill(pending, fits(pending, budgetBytes) ? Array.from(pending.keys()) : permutation(pending.length, random), budgetBytes, kept);
    const bytes = used + fill(earlier, permutation(earlier.length, random), budgetBytes - used, kept);
    seqs.train = kept;
    selection.train = { kept: kept.size, of: train.length, bytes };
  }
  for (const [split, list] of [['validation', validation], ['test', test]] as const) {
    if (fits(list, evalBudget)) continue;
    const kept = new Set<number>();
    const bytes = fill(list, Array.from(list.keys()), evalBudget, kept);
    seqs[split] = kept;
    selection[split] = { kept: kept.size, of: list.length, bytes };
  }
  return selection;
}
