/**
 * What the ingest protocol needs from its caller (the store, the processing
 * function, the label resolution) and what it reports per file.
 */
import type { Modality, ProcessedSample } from '../types.ts';
import type { Relabel, SampleStore, SampleTarget } from '../store/index.ts';

/** A file being ingested. */
export interface IngestFile {
  /** Absolute path in the inbox. */
  path: string;
  /** Path relative to inbox/, `/`-separated (e.g. `cat/x.png`). */
  source: string;
  /** What the first bytes say the file is (set once it has been read; undefined for formats no pipeline takes). */
  modality?: Modality;
  /** The raw path when the name is not valid UTF-8 (`path` and `source` then show it decoded lossily); such a file is quarantined unread. */
  rawPath?: Buffer;
}

/** Turns a file's bytes into model input; throws a `BonsaiError` (its code becomes the reject code) to reject. */
export type Processor = (bytes: Buffer, file: IngestFile) => Promise<ProcessedSample>;

/** What a file is labelled with, and the sidecar files that carry it. */
export interface ResolvedTarget {
  target: SampleTarget;
  /** Absolute paths of sidecars (e.g. a transcript `.txt`) that move with the file. */
  sidecars?: string[];
}

/** Says what a file is labelled with (folder name, sidecar, manifest); throws a `BonsaiError` to reject. */
export type LabelResolver = (file: IngestFile) => ResolvedTarget | Promise<ResolvedTarget>;

/**
 * The steps of one file, in order; `onStep` is called after each (the crash test
 * kills the process there). `transaction` runs inside the store transaction
 * before it commits and `commit` right after it, once per group of files.
 */
export const INGEST_STEPS = ['read', 'hash', 'label', 'process', 'transaction', 'commit', 'reason-tmp', 'reason', 'sidecars', 'moved'] as const;

/** One of `INGEST_STEPS`. */
export type IngestStep = (typeof INGEST_STEPS)[number];

/** Everything `ingestFile` needs. */
export interface IngestContext {
  /** State directory holding inbox/, archive/ and quarantine/. */
  stateDir: string;
  /** The store, open for writing. */
  store: SampleStore;
  /** Decodes a file (e.g. image or audio pipeline, see `processorByContent`). */
  process: Processor;
  /** Finds a file's label or transcript. */
  resolveLabel: LabelResolver;
  /** The modality the model reads: content of the other is rejected (`BONSAI_INGEST_WRONG_MODALITY`); default any. */
  modality?: Modality;
  /** Files larger than this are rejected unread (`BONSAI_INGEST_FILE_TOO_LARGE`); default unlimited. */
  maxFileBytes?: number;
  /** Clock (tests fix it). */
  now?: () => Date;
  /** Called after each step with the sources involved (tracing, fault injection). */
  onStep?: (step: IngestStep, sources: readonly string[]) => void;
}

/** Why a file was rejected (also the body of its `.reason.json`). */
export interface RejectReason {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** What happened to one file. */
export type IngestOutcome =
  | {
      outcome: 'accepted';
      source: string;
      id: string;
      modality: Modality;
      shape: number[];
      /** Where the file is now (archive/). */
      destination: string;
      /** True when the sample had been committed before a crash and only the move was left. */
      recovered: boolean;
    }
  | { outcome: 'duplicate'; source: string; id: string; modality?: Modality; destination: string; recovered: boolean }
  /** A copy of a stored sample under another label or transcript: the stored sample took the new one. */
  | { outcome: 'relabeled'; source: string; id: string; modality?: Modality; destination: string; recovered: boolean; relabel?: Relabel }
  | { outcome: 'rejected'; source: string; id: string | null; modality?: Modality; code: string; message: string; destination: string }
  /** Not ingested and left where it was (vanished, unreadable, not a regular file); retry later. */
  | { outcome: 'skipped'; source: string; code: string; message: string };
