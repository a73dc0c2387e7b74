/**
 * Streaming reads of the sample store for the trainer: filtered by pending
 * state, split and modality, yielded in batches of concatenated float32
 * features, never the whole store at once.
 */
import type { Database } from 'better-sqlite3';
import { BonsaiError } from '../../core/errors.ts';
import type { Modality } from '../types.ts';
import type { Split } from './split.ts';

/** Which samples to read. */
export interface SampleQuery {
  /** Only samples no model has trained on yet (default: all). */
  pending?: boolean;
  /** Only these splits (default: all). */
  split?: Split | readonly Split[];
  /** Only this modality (default: both). */
  modality?: Modality;
  /** Only samples with arrival sequence <= this (a snapshot taken with `lastSeq()`). */
  upToSeq?: number;
  /** `arrival` (default) or `hash`: by content hash, a fixed pseudo-random order that mixes labels and arrival times. */
  order?: 'arrival' | 'hash';
  /** Only samples with these arrival sequence numbers (a selection made with `listSamples`). */
  seqs?: ReadonlySet<number>;
}

/** A sample's size and state without its features (`listSamples`). */
export interface SampleListing {
  seq: number;
  /** Bytes of its features (float32). */
  bytes: number;
  /** No model has trained on it yet. */
  pending: boolean;
}

/** At most `batchSize` samples. */
export interface SampleBatch {
  /** Arrival sequence numbers. */
  seqs: number[];
  /** Content hashes. */
  ids: string[];
  /** Features of all samples, concatenated in order. */
  features: Float32Array;
  /** The shape every sample in the batch has, or null when shapes differ (audio of different lengths). */
  shape: number[] | null;
  /** Each sample's shape. */
  shapes: number[][];
  /** Class index of each sample's label (see `labels()`), -1 for transcribed samples. */
  labels: Int32Array;
  /** Transcript of each sample, null for labelled samples. */
  transcripts: (string | null)[];
}

interface BatchRow {
  seq: number;
  id: string;
  shape: string;
  transcript: string | null;
  class_index: number | null;
  features: Buffer;
}

function whereClause(query: SampleQuery): { sql: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (query.pending) where.push('s.trained_version IS NULL');
  if (query.split !== undefined) {
    const splits: readonly Split[] = typeof query.split === 'string' ? [query.split] : query.split;
    where.push(`s.split IN (${splits.map((_, i) => `@split${i}`).join(', ') || 'NULL'})`);
    splits.forEach((s, i) => { params[`split${i}`] = s; });
  }
  if (query.modality !== undefined) {
    where.push('s.modality = @modality');
    params.modality = query.modality;
  }
  if (query.upToSeq !== undefined) {
    where.push('s.seq <= @upToSeq');
    params.upToSeq = query.upToSeq;
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/** The ORDER BY column of `query`'s order. */
function orderOf(query: SampleQuery): string {
  return query.order === 'hash' ? 's.id' : 's.seq';
}

/**
 * Arrival number, feature bytes and pending state of every sample matching `query` (its
 * `seqs` aside), in the query's order; the features themselves are not read.
 */
export function listSamples(db: Database, query: SampleQuery): SampleListing[] {
  const { sql, params } = whereClause(query);
  const order = orderOf(query);
  const rows = db.prepare<[Record<string, unknown>], { seq: number; bytes: number; pending: number }>(
    `SELECT s.seq, length(s.features) AS bytes, s.trained_version IS NULL AS pending FROM samples s ${sql} ORDER BY ${order}`).all(params);
  return rows.map((r) => ({ seq: r.seq, bytes: r.bytes, pending: r.pending === 1 }));
}

/** Number of samples matching `query`. */
export function countMatching(db: Database, query: SampleQuery): number {
  const { sql, params } = whereClause(query);
  return db.prepare(`SELECT count(*) FROM samples s ${sql}`).pluck().get(params) as number;
}

function toBatch(rows: BatchRow[]): SampleBatch {
  const shapes = rows.map((r) => JSON.parse(r.shape) as number[]);
  const sizes = rows.map((r, i) => {
    const size = shapes[i].reduce((a, b) => a * b, 1);
    if (r.features.byteLength !== size * 4) {
      throw new BonsaiError('BONSAI_STORE_CORRUPT_SAMPLE', `sample ${r.id}: ${r.features.byteLength} feature bytes for shape [${shapes[i].join(', ')}] (expected ${size * 4})`, { id: r.id, bytes: r.features.byteLength, shape: shapes[i] });
    }
    return size;
  });
  const features = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  const bytes = new Uint8Array(features.buffer);
  let offset = 0;
  rows.forEach((r, i) => {
    bytes.set(r.features, offset * 4);
    offset += sizes[i];
  });
  const first = rows[0].shape;
  return {
    seqs: rows.map((r) => r.seq),
    ids: rows.map((r) => r.id),
    features,
    shape: rows.every((r) => r.shape === first) ? shapes[0] : null,
    shapes,
    labels: Int32Array.from(rows, (r) => r.class_index ?? -1),
    transcripts: rows.map((r) => r.transcript),
  };
}

/** Yields the samples matching `query` in batches of at most `batchSize`. */
export function* iterateBatches(db: Database, query: SampleQuery, batchSize: number): Generator<SampleBatch> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new BonsaiError('BONSAI_STORE_BAD_BATCH_SIZE', `batch size must be a positive integer, got ${batchSize}`, { batchSize });
  const { sql, params } = whereClause(query);
  const order = orderOf(query);
  const stmt = db.prepare<[Record<string, unknown>], BatchRow>(
    `SELECT s.seq, s.id, s.shape, s.transcript, l.class_index, s.features FROM samples s LEFT JOIN labels l ON l.label = s.label ${sql} ORDER BY ${order}`);
  let rows: BatchRow[] = [];
  for (const row of stmt.iterate(params)) {
    if (query.seqs && !query.seqs.has(row.seq)) continue;
    rows.push(row);
    if (rows.length === batchSize) {
      yield toBatch(rows);
      rows = [];
    }
  }
  if (rows.length) yield toBatch(rows);
}
