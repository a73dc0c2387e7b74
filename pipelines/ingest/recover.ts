/**
 * Start-up reconciliation of the state directory after a crash, before new
 * files are ingested. Every action is idempotent, so a crash during `recover`
 * is finished by the next one.
 *
 *  - temp files of atomic writes in quarantine/ are removed;
 *  - a reason file whose file is still in the inbox (crash between writing the
 *    reason and the move) gets its move finished; one whose file is nowhere is
 *    removed. Only reason files bonsai wrote count: our shape, named after their
 *    file, paths inside the inbox and quarantine, and not themselves named by
 *    another reason file (a user's `x.reason.json` is data, quarantined like any
 *    other file);
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

/** An inbox-relative source as bonsai writes it: `/`-separated segments, none empty, `.` or `..`. */
function isInboxSource(source: unknown): source is string {
  return typeof source === 'string' && source !== '' && !source.includes('\0') && source.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** A plain name of an entry in quarantine/ (no folder, not `.` or `..`). */
function isPlainName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/**
 * The reason file `name` in quarantine/, when it is one bonsai wrote: our shape, about the file
 * whose name it carries plus REASON_SUFFIX, every path an inbox source or a plain quarantine
 * name. Anything else (a user's `notes.reason.json` quarantined under its own name, a crafted
 * one) is null: recovery never moves or removes files on the word of a file it did not write.
 */
function readReason(quarantine: string, name: string): ReasonFile | null {
  let r: Partial<ReasonFile>;
  try {
    r = JSON.parse(readFileSync(join(quarantine, name), 'utf8')) as Partial<ReasonFile>;
  } catch {
    return null;
  }
  if (r === null || typeof r !== 'object' || typeof r.fileKey !== 'string' || !isPlainName(r.file) || r.file + REASON_SUFFIX !== name) return null;
  if (r.source !== '' && !isInboxSource(r.source)) return null;
  if (!Array.isArray(r.sidecars) || !r.sidecars.every((c: unknown) => typeof c === 'object' && c !== null && isInboxSource((c as { source?: unknown }).source) && isPlainName((c as { file?: unknown }).file))) return null;
  return r as ReasonFile;
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
 * `names`, which the caller found without one (temp names and folders are skipped);
 * returns the files given one. What cannot be done goes to `stuck`.
 */
function writeLostReasons(quarantine: string, names: readonly string[], time: string, stuck: (source: string, err: unknown) => void): string[] {
  const written: string[] = [];
  for (const name of names) {
    if (isTempName(name)) continue;
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
    try {
      unlinkSync(join(layout.quarantine, name));
      report.tempFilesRemoved.push(join(layout.quarantine, name));
    } catch (err) {
      stuck(`quarantine/${name}`, err);
    }
  }

  // 2. Reason files without their file. Names a reason file points at are data, whatever they end
  // in (a user's `x.reason.json` is quarantined under its own name, with `x.reason.json.reason.json`).
  const candidates = qNames.filter((n) => n.endsWith(REASON_SUFFIX) && !isTempName(n));
  const parsed = new Map<string, ReasonFile>();
  for (const name of candidates) {
    const reason = readReason(layout.quarantine, name);
    if (reason) parsed.set(name, reason);
  }
  const referenced = new Set<string>();
  for (const reason of parsed.values()) {
    referenced.add(reason.file);
    reason.sidecars.forEach((c) => referenced.add(c.file));
  }
  const reasonNames = new Set<string>();
  for (const name of candidates) {
    const reason = parsed.get(name);
    // Not ours, or named by another reason file: a quarantined data file (step 3 sees that it has a reason).
    if (!reason || referenced.has(name)) continue;
    reasonNames.add(name);
    if (entryExists(join(layout.quarantine, reason.file))) continue;
    const from = reason.source === '' ? '' : inboxPath(layout.inbox, reason.source);
    if (from !== '' && sameFile(from, reason.fileKey)) {
      const move: Move = { from, source: reason.source, sidecarSources: reason.sidecars.map((c) => c.source), dest: { dir: layout.quarantine, name: reason.file, sidecars: reason.sidecars.map((c) => c.file) } };
      const [failed] = executeMoves([move], ctx);
      if (failed) stuck(reason.source, failed);
      else report.rejectsCompleted.push(reason.source);
    } else {
      try {
        unlinkSync(join(layout.quarantine, name));
        report.orphanReasonsRemoved.push(join(layout.quarantine, name));
      } catch (err) {
        stuck(`quarantine/${name}`, err);
      }
    }
  }

  // 3. Quarantined files without a reason file.
  report.reasonsWritten.push(...writeLostReasons(layout.quarantine, qNames.filter((n) => !referenced.has(n) && !reasonNames.has(n)), now().toISOString(), stuck));

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
