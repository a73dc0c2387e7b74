/**
 * Inbox entries the daemon can neither ingest nor move out of the inbox (a
 * folder that cannot be written, a file where archive/ or quarantine/ should
 * be, an unreadable file). Every reconcile scan finds them again; each is
 * logged once (`ingest.stuck`, warn) and counted once in
 * `bonsai_ingest_stuck_files_total`, and reported again only after it left the
 * inbox and came back stuck.
 */
import type { Counter } from 'prom-client';
import { BonsaiError } from '../core/errors.ts';
import type { IngestOutcome } from '../pipelines/ingest/index.ts';
import type { Log } from './logging.ts';

/** Skip codes of pipelines/ingest that a retry will not cure (the others: the file vanished or is still being written). */
const LASTING_SKIPS: ReadonlySet<string> = new Set(['BONSAI_INGEST_READ_FAILED', 'BONSAI_INGEST_NOT_A_FILE', 'BONSAI_INGEST_FILE_SYMLINK', 'BONSAI_INGEST_MANIFEST_INVALID']);

/** Errors of the ingest protocol that mean "committed or decided, but not moved"; others (a failed commit) are retried and logged as `ingest.failed`. */
const MOVE_CODES: ReadonlySet<string> = new Set(['BONSAI_INGEST_MOVE_FAILED', 'BONSAI_INGEST_CROSS_DEVICE', 'BONSAI_INGEST_DESTINATION_EXISTS']);

/** Logs and counts each stuck inbox entry once; see the file comment. */
export class StuckEntries {
  private readonly reported = new Set<string>();

  constructor(private readonly log: Log, private readonly counter: Counter) {}

  /** Reports `source` (inbox-relative) as stuck with the code and message of what holds it; true the first time. */
  report(source: string, code: string, message: string): boolean {
    if (this.reported.has(source)) return false;
    this.reported.add(source);
    this.log.warn('ingest.stuck', { source, code, reason: message });
    this.counter.inc();
    return true;
  }

  /** Notes an ingest outcome: a lasting skip is reported, anything that left the inbox is forgotten. */
  outcome(o: IngestOutcome): void {
    if (o.outcome !== 'skipped') this.reported.delete(o.source);
    else if (LASTING_SKIPS.has(o.code)) this.report(o.source, o.code, o.message);
  }

  /** Reports `err` for `source` when it is a move failure; false for other errors (the caller rethrows them). */
  failure(source: string, err: unknown): boolean {
    if (!(err instanceof BonsaiError) || !MOVE_CODES.has(err.code)) return false;
    this.report(source, err.code, err.message);
    return true;
  }
}
