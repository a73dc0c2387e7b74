/**
 * The data of one update, read from the sample store (read-only) as of the
 * parent's snapshot `upToSeq`:
 *
 * - new data: training-split samples no model has trained on (pending);
 * - all data: every training-split sample (the new ones included);
 * - validation: every validation-split sample, so the new data's validation
 *   samples are in it (the gate compares candidate and champion on it);
 * - test: every test-split sample (reported, never trained on or gated on).
 *
 * Samples whose shape is not the model's input shape, or that carry a
 * transcript instead of a class label, are skipped and counted. Beyond the
 * memory budget each split is a selection of its samples (selection.ts).
 */
import { makeDataset, type Dataset } from '../../core/index.ts';
import type { SampleQuery, SampleStore, Split } from '../../pipelines/store/index.ts';
import { selectUpdateData, type DataSelection } from './selection.ts';

/** The four datasets of an update and the class labels. */
export interface UpdateDatasets {
  newData: Dataset;
  allData: Dataset;
  validation: Dataset;
  test: Dataset;
  /** Class labels in class-index order (the store's first-seen order). */
  labels: string[];
  /** Samples left out (other shape, or no class label). */
  skipped: number;
  /** What was read of each split when the data exceeded the memory budget; null when everything was read. */
  selection: DataSelection | null;
}

const BATCH = 512;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length === b.length) return a.every((d, i) => d === b[i]);
  // [h, w] and [h, w, 1] hold the same values.
  const size = (s: readonly number[]): number => s.reduce((x, y) => x * y, 1);
  return size(a) === size(b) && a.filter((d) => d !== 1).join() === b.filter((d) => d !== 1).join();
}

/** Reads the samples matching `query` whose shape fits `shape`; returns the dataset and how many were skipped. */
export function readDataset(store: SampleStore, query: SampleQuery, shape: readonly number[]): { data: Dataset; skipped: number } {
  const size = shape.reduce((a, b) => a * b, 1);
  // One array for the features, filled as the batches stream by: the data are in memory once.
  const capacity = query.seqs ? query.seqs.size : store.count(query);
  const x = new Float32Array(capacity * size);
  const ys: number[] = [];
  let skipped = 0;
  for (const batch of store.batches(query, BATCH)) {
    let offset = 0;
    batch.shapes.forEach((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      if (batch.labels[i] >= 0 && sameShape(s, shape) && ys.length < capacity) {
        x.set(batch.features.subarray(offset, offset + n), ys.length * size);
        ys.push(batch.labels[i]);
      } else {
        skipped += 1;
      }
      offset += n;
    });
  }
  return { data: makeDataset(x.subarray(0, ys.length * size), Int32Array.from(ys), shape), skipped };
}

/** The query of one split of an update: up to the snapshot, within the selection when there is one. */
export function splitQuery(split: Split, upToSeq: number, selection: DataSelection | null, pending = false): SampleQuery {
  const seqs = selection?.seqs[split];
  return { split, upToSeq, ...(pending && { pending }), ...(seqs && { seqs }) };
}

/** Reads the new, all, validation and test data of an update, within `budgetBytes` of features (null: all). */
export function readUpdateData(store: SampleStore, upToSeq: number, shape: readonly number[], budgetBytes: number | null = null): UpdateDatasets {
  const selection = selectUpdateData(store, upToSeq, budgetBytes);
  const read = (split: Split, pending = false): { data: Dataset; skipped: number } => readDataset(store, splitQuery(split, upToSeq, selection, pending), shape);
  const fresh = read('train', true);
  const all = read('train');
  const validation = read('validation');
  const test = read('test');
  return {
    newData: fresh.data, allData: all.data, validation: validation.data, test: test.data,
    labels: store.labels().map((l) => l.label),
    skipped: all.skipped + validation.skipped + test.skipped,
    selection,
  };
}
