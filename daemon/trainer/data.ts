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
 * transcript instead of a class label, are skipped and counted.
 */
import { makeDataset, type Dataset } from '../../core/index.ts';
import type { SampleQuery, SampleStore, Split } from '../../pipelines/store/index.ts';

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
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  let skipped = 0;
  for (const batch of store.batches(query, BATCH)) {
    let offset = 0;
    batch.shapes.forEach((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      if (batch.labels[i] >= 0 && sameShape(s, shape)) {
        xs.push(batch.features.subarray(offset, offset + n));
        ys.push(batch.labels[i]);
      } else {
        skipped += 1;
      }
      offset += n;
    });
  }
  const x = new Float32Array(ys.length * size);
  xs.forEach((v, i) => x.set(v, i * size));
  return { data: makeDataset(x, Int32Array.from(ys), shape), skipped };
}

/** Reads the new, all, validation and test data of an update. */
export function readUpdateData(store: SampleStore, upToSeq: number, shape: readonly number[]): UpdateDatasets {
  const read = (split: Split, pending = false): { data: Dataset; skipped: number } => readDataset(store, { split, upToSeq, pending: pending || undefined }, shape);
  const fresh = read('train', true);
  const all = read('train');
  const validation = read('validation');
  const test = read('test');
  return {
    newData: fresh.data, allData: all.data, validation: validation.data, test: test.data,
    labels: store.labels().map((l) => l.label),
    skipped: all.skipped + validation.skipped + test.skipped,
  };
}
