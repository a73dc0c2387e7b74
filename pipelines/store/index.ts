/**
 * The durable sample store (SQLite): samples by content hash, labels in
 * first-seen order, duplicates, the ingest log, streamed batches for training.
 */
export { openStore, SampleStore, bytesToFloats } from './store.ts';
export type { OpenStoreOptions, SampleTarget, IngestRecord, CommitOutcome, IngestLogEntry, Relabel, StoredSample, LabelEntry, StoreCounts, TrainedSelection } from './store.ts';
export type { SampleQuery, SampleBatch, SampleListing } from './batches.ts';
export { splitOf, checkSplitRatios, DEFAULT_SPLIT_RATIOS, SPLITS } from './split.ts';
export type { Split, SplitRatios } from './split.ts';
export { MIGRATIONS, SCHEMA_VERSION, contentOf, migrate, schemaVersion } from './schema.ts';
export type { Migration } from './schema.ts';
export { acquireWriterLock, isAlive } from './lock.ts';
export type { WriterLock } from './lock.ts';
