/**
 * Start-up reconciliation of the state directory after a crash, before new
 * files are ingested. Every action is idempotent, so a crash during `recover`
 * is finished by the next one.
 *
 *  - temp files of atomic writes in quarantine/ are removed;
 *  - a reason file whose file is still in the inbox (crash between writing the
 *    reason and the move) gets its move finished; one whose file is nowhere is
 *    removed;
 *  - a file in quarantine/ with no reason file gets one (`BONSAI_INGEST_REASON_LOST`);
 *  - a file still in the inbox that the ingest log shows as committed (same
 *    source, same file key, same hash: a crash between commit and move) is
 *    archived, with its sidecars, and counted once (not as a duplicate).
 *
 * Nothing here follows a link. A step that fails for one file (a move, a
 * reason file) is reported in `stuck` and the rest goes on: one bad file never
 * stops the daemon from starting.
 */
import { lstatSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { SampleStore } from '../store/index.ts';
import type { IngestContext, IngestOutcome, IngestStep } from './context.ts';
import { entryExists, fileKeyOf, isFolder, fsyncDir, inboxPath, isTempName, listFiles, REASON_SUFFIX, sourceOf, stateLayout, writeStateFile } from './files.ts';
import { executeMoves, outcomeOf, planMove, reasonJson, type Move, type ReasonFile } from './finalize.ts';
import { sampleId } from './prepare.ts';

/** What `recover` did. */
export interface RecoveryReport {
  /** Temp files removed. */
  tempFilesRemoved: string[];
  /** Quarantine moves finished from their reason file (inbox sources). */
  rejectsCompleted: string[];
  /** Reason files removed because their file no longer exists anywhere. */
  orphanReasonsRemoved: string[];
  /** Quarantined files that had no reason file and got one. */
  reasonsWritten: string[];
  /** Committed files found in the inbox and archived. */
  archived: IngestOutcome[];
  /** Work that failed (a move, a reason file): left as it was for the next start; recovery goes on with the rest. */
  stuck: { source: string; code: string; message: string }[];
}

/** Options of `recover`. */
export interface RecoverOptions {
  now?: () => Date;
  onStep?: (step: IngestStep, sources: readonly string[]) => void;
}

function readReason(path: string): ReasonFile | null {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as ReasonFile;
    return typeof r.source === 'string' && typeof r.file === 'string' && Array.isArray(r.sidecars) ? r : null;
  } catch {
    return null;
  }
}

function sameFile(path: string, fileKey: string): boolean {
  try {
    return fileKeyOf(lstatSync(path, { bigint: true })) === fileKey;
  } catch {
    return false;
  }
}

/**
 * Writes a `BONSAI_INGEST_REASON_LOST` reason file beside each quarantined file of
 * `names` that has none (temp names, reason files and folders are skipped);
 * returns the files given one. What cannot be done goes to `stuck`.
 */
function writeLostReasons(quarantine: string, names: readonly string[], time: string, stuck: (source: string, err: unknown) => void): string[] {
  const written: string[] = [];
  for (const name of names) {
    if (isTempName(name) || name.endsWith(REASON_SUFFIX)) continue;
    const path = join(quarantine, name);
    let stats;
    try {
      stats = lstatSync(path, { bigint: true });
    } catch {
      continue;
    }
    if (stats.isDirectory()) continue;
    try {
      // Links, FIFOs and devices are never read: their reason has no id.
      const reason: ReasonFile = {
        code: 'BONSAI_INGEST_REASON_LOST', message: `${name} was in quarantine without a reason file (lost in a crash or removed); inspect it and move it back to the inbox to retry`,
        details: {}, time, source: '', id: stats.isFile() ? sampleId(readFileSync(path)) : null, fileKey: fileKeyOf(stats), file: name, sidecars: [],
      };
      writeStateFile(path + REASON_SUFFIX, reasonJson(reason));
      written.push(path);
    } catch (err) {
      stuck(`quarantine/${name}`, err);
    }
  }
  if (written.length) fsyncDir(quarantine);
  return written;
}

/** Finishes the work a crash interrupted; see the module comment. */
export function recover(stateDir: string, store: SampleStore, options: RecoverOptions = {}): RecoveryReport {
  if (store.readonly) throw new BonsaiError('BONSAI_INGEST_STORE_READ_ONLY', `recovery needs the store open for writing, ${store.path} is read-only`, { path: store.path });
  const layout = stateLayout(stateDir);
  const now = options.now ?? (() => new Date());
  const report: RecoveryReport = { tempFilesRemoved: [], rejectsCompleted: [], orphanReasonsRemoved: [], reasonsWritten: [], archived: [], stuck: [] };
  const stuck = (source: string, err: unknown): void => {
    const code = err instanceof BonsaiError ? err.code : 'BONSAI_INGEST_MOVE_FAILED';
    report.stuck.push({ source, code, message: err instanceof Error ? err.message : String(err) });
  };
  const ctx: IngestContext = {
    stateDir, store, now, onStep: options.onStep,
    process: () => Promise.reject(new Error('recover does not process files')),
    resolveLabel: () => Promise.reject(new Error('recover does not label files')),
  };

  // 1. Temp files (we hold the writer lock, so no other writer is mid-write).
  const qNames = isFolder(layout.quarantine) ? readdirSync(layout.quarantine) : [];
  for (const name of qNames.filter(isTempName)) {
    unlinkSync(join(layout.quarantine, name));
    report.tempFilesRemoved.push(join(layout.quarantine, name));
  }

  // 2. Reason files without their file.
  const referenced = new Set<string>();
  for (const name of qNames.filter((n) => n.endsWith(REASON_SUFFIX) && !isTempName(n))) {
    const path = join(layout.quarantine, name);
    const reason = readReason(path);
    const file = reason?.file ?? name.slice(0, -REASON_SUFFIX.length);
    referenced.add(file);
    reason?.sidecars.forEach((s) => referenced.add(s.file));
    if (entryExists(join(layout.quarantine, file))) continue;
    const from = reason ? inboxPath(layout.inbox, reason.source) : '';
    if (reason && sameFile(from, reason.fileKey)) {
      const move: Move = { from, source: reason.source, sidecarSources: reason.sidecars.map((s) => s.source), dest: { dir: layout.quarantine, name: reason.file, sidecars: reason.sidecars.map((s) => s.file) } };
      const [failed] = executeMoves([move], ctx);
      if (failed) stuck(reason.source, failed);
      else report.rejectsCompleted.push(reason.source);
    } else {
      unlinkSync(path);
      report.orphanReasonsRemoved.push(path);
    }
  }

  // 3. Quarantined files without a reason file.
  report.reasonsWritten.push(...writeLostReasons(layout.quarantine, qNames.filter((n) => !referenced.has(n)), now().toISOString(), stuck));

  // 4. Committed files still in the inbox.
  const reserved = new Set<string>();
  for (const path of listFiles(layout.inbox)) {
    const source = sourceOf(layout.inbox, path);
    let fileKey: string;
    try {
      fileKey = fileKeyOf(lstatSync(path, { bigint: true }));
    } catch {
      continue;
    }
    const logged = store.findIngest(source, fileKey);
    if (!logged || logged.outcome === 'rejected' || logged.id !== sampleId(readFileSync(path))) continue;
    const prepared = { kind: 'recovered' as const, file: { path, source }, fileKey, id: logged.id, outcome: logged.outcome, sidecars: logged.sidecars.filter((s) => entryExists(inboxPath(layout.inbox, s))) };
    const move = planMove(prepared, logged.outcome, ctx, now(), reserved);
    const [failed] = executeMoves([move], ctx);
    if (failed) stuck(source, failed);
    else report.archived.push(outcomeOf(prepared, logged.outcome, move, ctx));
  }
  return report;
}
