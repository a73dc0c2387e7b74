/**
 * The durable sample store: one SQLite database (better-sqlite3) holding every
 * accepted sample as float32 features, its label or transcript, its split and
 * whether a model has trained on it yet.
 *
 * Durability: WAL journal with `synchronous = FULL`, so every commit is on disk
 * (the WAL fsynced) before `commitIngest` returns. The ingest protocol moves the
 * inbox file to `archive/` right after the commit; with `NORMAL` a power cut
 * could roll back a commit whose file was already archived, losing the sample.
 * Group commits (several files per transaction) pay that fsync once per group.
 *
 * One process writes (the `store.db.lock` file, see lock.ts); any number read
 * (`readonly: true`), e.g. the trainer child process. Samples are never deleted.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { Modality, ProcessedSample } from '../types.ts';
import { acquireWriterLock, type WriterLock } from './lock.ts';
import { contentOf, migrate, type Migration } from './schema.ts';
import { checkSplitRatios, DEFAULT_SPLIT_RATIOS, splitOf, type Split, type SplitRatios } from './split.ts';
import { iterateBatches, countMatching, listSamples, type SampleBatch, type SampleListing, type SampleQuery } from './batches.ts';

/** What a sample is labelled with: a class name, or a transcript for speech. */
export type SampleTarget = { label: string; transcript?: undefined } | { transcript: string; label?: undefined };

/** Options of `openStore`. */
export interface OpenStoreOptions {
  /** Open for reading only: no lock taken, writes throw `BONSAI_STORE_READ_ONLY`. */
  readonly?: boolean;
  /** How new samples are split (stored per sample; changing it later does not move old samples). */
  splitRatios?: SplitRatios;
  /** How long a statement waits for another connection's lock, in ms (SQLite busy_timeout). */
  busyTimeoutMs?: number;
  /** Schema steps to apply (tests pass a prefix of `MIGRATIONS` to build old databases). */
  migrations?: readonly Migration[];
}

/** One file's record for `commitIngest`. */
export type IngestRecord =
  | {
      kind: 'sample';
      /** SHA-256 hex of the file's bytes. */
      id: string;
      /** Path relative to inbox/. */
      source: string;
      /** Identity of the file instance (inode:size:mtime), see ingest/files.ts. */
      fileKey: string;
      /** The processed features; may be omitted when the id is known to be stored (a duplicate). */
      sample?: ProcessedSample;
      /** Label or transcript. */
      target: SampleTarget;
      /** Sidecar sources (relative to inbox/) that travel with the file. */
      sidecars: string[];
    }
  | {
      kind: 'rejected';
      /** Content hash, or null when the file was rejected without being read. */
      id: string | null;
      source: string;
      fileKey: string;
      /** The rejecting error's code. */
      code: string;
      sidecars: string[];
    };

/**
 * What `commitIngest` decided for one record: a new sample; a copy of a stored one
 * under the same label or transcript (not stored again); a copy under another one
 * (`relabeled`: the stored sample takes the new target, the latest arrival wins, and
 * the change is kept in `relabels`); or a reject.
 */
export type CommitOutcome = 'accepted' | 'duplicate' | 'relabeled' | 'rejected';

/** One change of a stored sample's target (`SampleStore.lastRelabelFrom`). */
export interface Relabel {
  id: string;
  /** The file that carried the new target (relative to inbox/). */
  source: string;
  from: { label: string | null; transcript: string | null };
  to: { label: string | null; transcript: string | null };
  time: number;
}

/** A row of the ingest log. */
export interface IngestLogEntry {
  id: string | null;
  source: string;
  fileKey: string;
  outcome: CommitOutcome;
  code: string | null;
  sidecars: string[];
  time: number;
}

/** One stored sample. */
export interface StoredSample {
  /** Arrival sequence number (1, 2, ...). */
  seq: number;
  id: string;
  modality: Modality;
  split: Split;
  label: string | null;
  transcript: string | null;
  shape: number[];
  /** Commit time, ms since the epoch. */
  arrivedAt: number;
  source: string;
  /** First model version trained on it; null while pending. */
  trainedVersion: number | null;
  features: Float32Array;
}

/** A class label and its stable index. */
export interface LabelEntry {
  label: string;
  classIndex: number;
  firstSeenAt: number;
}

/** Counts for metrics and triggers. */
export interface StoreCounts {
  total: number;
  /** Samples no model has trained on yet. */
  pending: number;
  bySplit: Record<Split, number>;
  pendingBySplit: Record<Split, number>;
  byModality: Record<Modality, number>;
  /** Samples per class label (transcribed samples are not included). */
  byLabel: Record<string, number>;
  /** Duplicate arrivals recorded (copies not stored again). */
  duplicates: number;
  /** Relabels recorded (copies that changed a stored sample's label or transcript). */
  relabels: number;
  /** Highest arrival sequence number (0 when empty). */
  lastSeq: number;
}

/** Which samples `markTrained` marks: explicit ids, or every pending one up to an arrival sequence number. */
export type TrainedSelection = readonly string[] | { upToSeq: number; split?: Split; modality?: Modality };

interface SampleRow {
  seq: number; id: string; modality: Modality; split: Split; label: string | null; transcript: string | null;
  shape: string; arrived_at: number; source: string; trained_version: number | null; features: Buffer;
}

interface StoredTarget { id: string; label: string | null; transcript: string | null }

interface RelabelRow {
  id: string; source: string; from_label: string | null; from_transcript: string | null;
  to_label: string | null; to_transcript: string | null; time: number;
}

interface LogRow { id: string | null; source: string; file_key: string; outcome: CommitOutcome; code: string | null; sidecars: string; time: number }

const ID_PATTERN = /^[0-9a-f]{64}$/;

/** Little-endian float32 bytes of `features` (a view, no copy). */
function featureBytes(features: Float32Array): Buffer {
  return Buffer.from(features.buffer, features.byteOffset, features.byteLength);
}

/** Copies a BLOB into a fresh Float32Array (BLOB offsets need not be 4-aligned). */
export function bytesToFloats(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}

/** The sample store; create with `openStore`. */
export class SampleStore {
  /** Path of the database file. */
  readonly path: string;
  /** Whether writes are refused. */
  readonly readonly: boolean;
  /** How new samples are split. */
  readonly splitRatios: Readonly<SplitRatios>;
  /** The underlying connection (for read queries this class does not cover). */
  readonly db: Database.Database;
  private readonly lock: WriterLock | null;
  private readonly stmts;

  /** @internal use `openStore`. */
  constructor(path: string, db: Database.Database, lock: WriterLock | null, splitRatios: SplitRatios) {
    this.path = path;
    this.db = db;
    this.lock = lock;
    this.readonly = lock === null;
    this.splitRatios = Object.freeze({ ...splitRatios });
    this.stmts = {
      hasSample: db.prepare<[string], number>('SELECT 1 FROM samples WHERE id = ?').pluck(),
      getSample: db.prepare<[string], SampleRow>('SELECT * FROM samples WHERE id = ?'),
      findLog: db.prepare<[string, string], LogRow>('SELECT * FROM ingest_log WHERE source = ? AND file_key = ?'),
      lastSeq: db.prepare<[], number>('SELECT COALESCE(MAX(seq), 0) FROM samples').pluck(),
      oldestPendingAt: db.prepare<[], number>('SELECT arrived_at FROM samples WHERE trained_version IS NULL ORDER BY seq LIMIT 1').pluck(),
      labels: db.prepare<[], { label: string; class_index: number; first_seen_at: number }>('SELECT label, class_index, first_seen_at FROM labels ORDER BY class_index'),
      countGroups: db.prepare<[], { split: Split; modality: Modality; label: string | null; pending: number; n: number }>(
        'SELECT split, modality, label, trained_version IS NULL AS pending, count(*) AS n FROM samples GROUP BY split, modality, label, trained_version IS NULL'),
      duplicates: db.prepare<[], number>('SELECT count(*) FROM duplicates').pluck(),
      relabels: db.prepare<[], number>('SELECT count(*) FROM relabels').pluck(),
      target: db.prepare<[string], StoredTarget>('SELECT id, label, transcript FROM samples WHERE id = ?'),
      byContent: db.prepare<[string], StoredTarget>('SELECT id, label, transcript FROM samples WHERE content = ? ORDER BY seq LIMIT 1'),
      lastRelabelFrom: db.prepare<[string], RelabelRow>('SELECT * FROM relabels WHERE source = ? ORDER BY seq DESC LIMIT 1'),
    };
  }

  private writable(op: string): void {
    if (this.readonly) throw new BonsaiError('BONSAI_STORE_READ_ONLY', `cannot ${op}: store ${this.path} is open read-only`, { path: this.path, op });
  }

  /** Whether a sample with this content hash is stored. */
  hasSample(id: string): boolean {
    return this.stmts.hasSample.get(id) !== undefined;
  }

  /** The stored sample with this id, if any. */
  getSample(id: string): StoredSample | undefined {
    const row = this.stmts.getSample.get(id);
    return row && {
      seq: row.seq, id: row.id, modality: row.modality, split: row.split, label: row.label, transcript: row.transcript,
      shape: JSON.parse(row.shape) as number[], arrivedAt: row.arrived_at, source: row.source,
      trainedVersion: row.trained_version, features: bytesToFloats(row.features),
    };
  }

  /** The ingest log row of one file instance (source path + file key), if it was committed. */
  findIngest(source: string, fileKey: string): IngestLogEntry | undefined {
    const row = this.stmts.findLog.get(source, fileKey);
    return row && { id: row.id, source: row.source, fileKey: row.file_key, outcome: row.outcome, code: row.code, sidecars: JSON.parse(row.sidecars) as string[], time: row.time };
  }

  /**
   * Commits a group of ingested files in one transaction: new samples (and their
   * labels, in first-seen order), duplicate arrivals, relabels, rejects, and one
   * ingest-log row per file. Whether a sample is new is decided inside the
   * transaction, so two copies in one group store one sample and one duplicate (or
   * relabel, when their targets differ: the later record wins). A relabeled sample
   * is pending again and takes the next arrival number, as if it had just arrived:
   * an update that started before it does not mark it trained. `beforeCommit` runs
   * inside the transaction after the writes (a fault-injection point).
   */
  commitIngest(records: readonly IngestRecord[], options: { now?: number; beforeCommit?: () => void } = {}): CommitOutcome[] {
    this.writable('commit ingested files');
    const w = this.writeStatements();
    const now = options.now ?? Date.now();
    return this.db.transaction(() => {
      const outcomes = records.map((r): CommitOutcome => {
        const sidecars = JSON.stringify(r.sidecars);
        if (r.kind === 'rejected') {
          w.log.run(r.id, r.source, r.fileKey, 'rejected', r.code, sidecars, now);
          return 'rejected';
        }
        if (!ID_PATTERN.test(r.id)) throw new BonsaiError('BONSAI_STORE_BAD_ID', `sample id must be 64 lowercase hex digits, got ${JSON.stringify(r.id)}`, { id: r.id, source: r.source });
        const label = r.target.label ?? null;
        const transcript = r.target.transcript ?? null;
        let outcome: CommitOutcome;
        // The same file, or another file with the same decoded content (one sample, in one split).
        const content = r.sample && contentOf(JSON.stringify(r.sample.shape), featureBytes(r.sample.features));
        const stored = this.stmts.target.get(r.id) ?? (content ? this.stmts.byContent.get(content) : undefined);
        if (stored && stored.label === label && stored.transcript === transcript) {
          w.duplicate.run(stored.id, r.source, label, transcript, now);
          outcome = 'duplicate';
        } else if (stored) {
          if (label !== null) w.label.run(label, now);
          w.relabel.run(stored.id, r.source, stored.label, stored.transcript, label, transcript, now);
          w.retarget.run({ id: stored.id, label, transcript, now, source: r.source });
          outcome = 'relabeled';
        } else {
          if (!r.sample || !content) throw new BonsaiError('BONSAI_STORE_MISSING_FEATURES', `sample ${r.id} from ${r.source} is not stored and came without features`, { id: r.id, source: r.source });
          checkSample(r.sample, r.id, r.source);
          if (label !== null) w.label.run(label, now);
          w.sample.run(r.id, r.sample.modality, splitOf(r.id, this.splitRatios), label, transcript, JSON.stringify(r.sample.shape), now, r.source, featureBytes(r.sample.features), content);
          outcome = 'accepted';
        }
        w.log.run(r.id, r.source, r.fileKey, outcome, null, sidecars, now);
        return outcome;
      });
      options.beforeCommit?.();
      return outcomes;
    }).immediate();
  }

  /** Stores one sample outside the inbox protocol (e.g. a dataset import); returns whether it was new. */
  addSample(id: string, sample: ProcessedSample, target: SampleTarget, source: string, now?: number): CommitOutcome {
    return this.commitIngest([{ kind: 'sample', id, source, fileKey: `direct:${id}`, sample, target, sidecars: [] }], { now })[0];
  }

  /**
   * Streams samples in batches of at most `batchSize`, reading rows with
   * `stmt.iterate()` so only one batch is in memory. The connection is busy while
   * the generator is open: finish or `return()` it before writing on this store.
   */
  batches(query: SampleQuery = {}, batchSize = 256): Generator<SampleBatch> {
    return iterateBatches(this.db, query, batchSize);
  }

  /** Arrival number, feature bytes and pending state of the samples matching `query`, without their features. */
  list(query: SampleQuery = {}): SampleListing[] {
    return listSamples(this.db, query);
  }

  /** Number of samples matching `query`. */
  count(query: SampleQuery = {}): number {
    return countMatching(this.db, query);
  }

  /**
   * Records that model `version` trained on the selected samples (only those
   * still pending: the first version that trained on a sample is kept), in one
   * transaction. Returns how many samples changed.
   */
  markTrained(selection: TrainedSelection, version: number): number {
    this.writable('mark samples trained');
    if (!Number.isSafeInteger(version) || version < 0) throw new BonsaiError('BONSAI_STORE_BAD_VERSION', `model version must be a non-negative integer, got ${version}`, { version });
    if (isIdList(selection)) {
      const stmt = this.db.prepare<[number, string]>('UPDATE samples SET trained_version = ? WHERE id = ? AND trained_version IS NULL');
      return this.db.transaction(() => selection.reduce((n, id) => n + stmt.run(version, id).changes, 0)).immediate();
    }
    const where = ['trained_version IS NULL', 'seq <= @upToSeq'];
    if (selection.split) where.push('split = @split');
    if (selection.modality) where.push('modality = @modality');
    const stmt = this.db.prepare(`UPDATE samples SET trained_version = @version WHERE ${where.join(' AND ')}`);
    return this.db.transaction(() => stmt.run({ version, upToSeq: selection.upToSeq, split: selection.split, modality: selection.modality }).changes).immediate();
  }

  /** Highest arrival sequence number so far (0 when empty): snapshot it before an update, mark up to it after. */
  lastSeq(): number {
    return this.stmts.lastSeq.get() ?? 0;
  }

  /** Arrival time (ms since the epoch) of the oldest sample no model has trained on; null when none is pending. */
  oldestPendingAt(): number | null {
    return this.stmts.oldestPendingAt.get() ?? null;
  }

  /** Whether the connection is open (`close` has not run). */
  get isOpen(): boolean {
    return this.db.open;
  }

  /** Class labels in first-seen order; `classIndex` is stable for the life of the store. */
  labels(): LabelEntry[] {
    return this.stmts.labels.all().map((r) => ({ label: r.label, classIndex: r.class_index, firstSeenAt: r.first_seen_at }));
  }

  /** The latest relabel that a file at `source` (relative to inbox/) carried, if any. */
  lastRelabelFrom(source: string): Relabel | undefined {
    return relabelOf(this.stmts.lastRelabelFrom.get(source));
  }

  /** Counts by split, pending state, modality and label, plus the duplicate and relabel counters. */
  counts(): StoreCounts {
    const counts: StoreCounts = {
      total: 0, pending: 0,
      bySplit: { train: 0, validation: 0, test: 0 }, pendingBySplit: { train: 0, validation: 0, test: 0 },
      byModality: { image: 0, audio: 0 }, byLabel: {},
      duplicates: this.stmts.duplicates.get() ?? 0, relabels: this.stmts.relabels.get() ?? 0, lastSeq: this.lastSeq(),
    };
    for (const g of this.stmts.countGroups.all()) {
      counts.total += g.n;
      counts.bySplit[g.split] += g.n;
      counts.byModality[g.modality] += g.n;
      if (g.pending) {
        counts.pending += g.n;
        counts.pendingBySplit[g.split] += g.n;
      }
      if (g.label !== null) counts.byLabel[g.label] = (counts.byLabel[g.label] ?? 0) + g.n;
    }
    return counts;
  }

  /** Closes the connection and releases the writer lock. */
  close(): void {
    if (this.db.open) this.db.close();
    this.lock?.release();
  }

  private writeCache: ReturnType<SampleStore['prepareWrites']> | undefined;

  private writeStatements(): ReturnType<SampleStore['prepareWrites']> {
    this.writeCache ??= this.prepareWrites();
    return this.writeCache;
  }

  private prepareWrites() {
    const db = this.db;
    return {
      sample: db.prepare('INSERT INTO samples (id, modality, split, label, transcript, shape, arrived_at, source, features, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      label: db.prepare('INSERT OR IGNORE INTO labels (class_index, label, first_seen_at) VALUES ((SELECT COALESCE(MAX(class_index) + 1, 0) FROM labels), ?, ?)'),
      duplicate: db.prepare('INSERT INTO duplicates (id, source, label, transcript, time) VALUES (?, ?, ?, ?, ?)'),
      relabel: db.prepare('INSERT INTO relabels (id, source, from_label, from_transcript, to_label, to_transcript, time) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      // A relabeled sample arrives again: pending, the next arrival number, the new source and time.
      retarget: db.prepare(`UPDATE samples SET label = @label, transcript = @transcript, trained_version = NULL, arrived_at = @now,
        source = @source, seq = (SELECT MAX(seq) + 1 FROM samples) WHERE id = @id`),
      // One row per file instance (source + file key); a later row for the same instance (a reject
      // retried, or an inode reused after its archived file was deleted) replaces the earlier one.
      log: db.prepare('INSERT OR REPLACE INTO ingest_log (id, source, file_key, outcome, code, sidecars, time) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    };
  }
}

function relabelOf(row: RelabelRow | undefined): Relabel | undefined {
  return row && {
    id: row.id, source: row.source, time: row.time,
    from: { label: row.from_label, transcript: row.from_transcript }, to: { label: row.to_label, transcript: row.to_transcript },
  };
}

function isIdList(selection: TrainedSelection): selection is readonly string[] {
  return Array.isArray(selection);
}

function checkSample(sample: ProcessedSample, id: string, source: string): void {
  const size = sample.shape.reduce((a, b) => a * b, 1);
  if (!sample.shape.every((d) => Number.isSafeInteger(d) && d > 0) || size !== sample.features.length) {
    throw new BonsaiError('BONSAI_STORE_BAD_SHAPE', `sample ${id} from ${source}: shape [${sample.shape.join(', ')}] does not match ${sample.features.length} features`, { id, source, shape: sample.shape, length: sample.features.length });
  }
}

/**
 * Opens (creating and migrating if needed) the store at `path`. Writers take the
 * `<path>.lock` lock first and throw `BONSAI_STORE_LOCKED` with the holder's pid
 * if another live process has it.
 */
export function openStore(path: string, options: OpenStoreOptions = {}): SampleStore {
  const splitRatios = options.splitRatios ?? DEFAULT_SPLIT_RATIOS;
  checkSplitRatios(splitRatios);
  const busyTimeout = options.busyTimeoutMs ?? 5000;
  if (options.readonly) {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeout });
    } catch (err) {
      throw new BonsaiError('BONSAI_STORE_OPEN_FAILED', `cannot open store ${path} read-only: ${(err as Error).message}`, { path }, { cause: err });
    }
    try {
      migrate(db, { readonly: true, migrations: options.migrations, path });
      return new SampleStore(path, db, null, splitRatios);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  mkdirSync(dirname(path), { recursive: true });
  const lock = acquireWriterLock(`${path}.lock`);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: busyTimeout });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, { migrations: options.migrations, path });
    return new SampleStore(path, db, lock, splitRatios);
  } catch (err) {
    db?.close();
    lock.release();
    if (err instanceof BonsaiError) throw err;
    throw new BonsaiError('BONSAI_STORE_OPEN_FAILED', `cannot open store ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}
