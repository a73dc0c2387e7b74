/**
 * The inbox-to-store commit protocol: files in inbox/ become samples in the
 * store, then move to archive/ (or, rejected, to quarantine/ with a reason).
 */
export { Ingestor, ingestFile, ingestFiles } from './ingestor.ts';
export type { IngestorOptions } from './ingestor.ts';
export { recover } from './recover.ts';
export type { RecoveryReport, RecoverOptions } from './recover.ts';
export { INGEST_STEPS } from './context.ts';
export type { IngestContext, IngestFile, IngestOutcome, IngestStep, LabelResolver, Processor, RejectReason, ResolvedTarget } from './context.ts';
export type { ReasonFile } from './finalize.ts';
export { sampleId } from './prepare.ts';
export { processorByContent, sniffModality } from './dispatch.ts';
export type { Processors } from './dispatch.ts';
export { DONE_SUFFIX, controlCharacter, isInboxInput, isSampleName, isTranscriptName } from './sample-names.ts';
export { stateLayout, listFiles, inboxCandidates, scanInbox, REASON_SUFFIX } from './files.ts';
export type { InboxScan, StateLayout } from './files.ts';
export { ProcessingPool } from './pool.ts';
export type { ProcessingPoolOptions } from './pool.ts';
