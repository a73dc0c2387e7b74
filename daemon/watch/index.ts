/** Watching the inbox: completeness of files, the watcher with reconcile scans, and the state-directory lock. */
export { InboxWatcher } from './watcher.ts';
export type { InboxWatcherArgs, IngestCallback, WatcherStats } from './watcher.ts';
export { checkComplete, isSpecialEntry } from './complete.ts';
export { DONE_SUFFIX, isSampleName } from '../../pipelines/ingest/index.ts';
export type { Completeness, CompleteOptions, Look } from './complete.ts';
export { lockStateDir, STATE_LOCK_FILE } from './lock.ts';
