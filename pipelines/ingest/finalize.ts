/**
 * The steps after the store commit: move each file (and its sidecars) out of
 * the inbox. Accepted files and duplicates go to `archive/<day>/<hash12>-<name>`;
 * rejects get `quarantine/<name>.reason.json` (written atomically and made
 * durable) before the file moves to `quarantine/<name>`.
 *
 * Order, and why a crash anywhere is recoverable:
 *  1. reason files written and their folder fsynced — the file is still in the
 *     inbox; `recover` finishes the move from the reason file.
 *  2. sidecars moved, their folders fsynced — the file is still in the inbox;
 *     committed files are found in the ingest log, rejects by their reason.
 *  3. the file moved — done. A move undone by a power cut puts the file back in
 *     the inbox, where step 2's argument applies again.
 *
 * A move renames the inbox entry itself: a symbolic link moves as a link, a
 * FIFO as a FIFO. Destination names fit in 255 bytes (`fitName`).
 */
import { basename, join } from 'node:path';
import type { IngestContext, IngestOutcome, RejectReason } from './context.ts';
import type { Prepared } from './prepare.ts';
import type { CommitOutcome } from '../store/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import { archiveDestination, fsyncDir, inboxPath, moveFile, printableName, quarantineDestination, REASON_SUFFIX, stateLayout, utcDay, writeStateFile, type Destination } from './files.ts';

/** The body of `<name>.reason.json`. */
export interface ReasonFile extends RejectReason {
  /** ISO time of the reject. */
  time: string;
  /** Where the file was, relative to inbox/. */
  source: string;
  /** Content hash, null if rejected unread. */
  id: string | null;
  /** File key (inode:size:mtime) of the rejected file instance. */
  fileKey: string;
  /** The file's name in quarantine/. */
  file: string;
  /** Sidecars moved with it: inbox source and name in quarantine/. */
  sidecars: { source: string; file: string }[];
}

/** A file whose fate is decided, with where it goes. */
export interface Move {
  /** Inbox path of the file (raw when its name is not UTF-8). */
  from: string | Buffer;
  source: string;
  /** Inbox sources of the sidecars, parallel to `dest.sidecars`. */
  sidecarSources: string[];
  dest: Destination;
  /** For rejects: the reason file to write first. */
  reason?: ReasonFile;
}

/** Plans the move of a decided file (destinations do not collide within `reserved`). */
export function planMove(p: Exclude<Prepared, { kind: 'skipped' }>, outcome: CommitOutcome, ctx: IngestContext, now: Date, reserved: Set<string>): Move {
  const layout = stateLayout(ctx.stateDir);
  const name = p.file.rawPath === undefined ? basename(p.file.path) : printableName(p.file.rawPath.subarray(p.file.rawPath.lastIndexOf(0x2f) + 1));
  const sidecarNames = p.sidecars.map((s) => basename(s));
  if (outcome === 'rejected' && p.kind === 'rejected') {
    const dest = quarantineDestination(layout.quarantine, name, sidecarNames, reserved);
    const reason: ReasonFile = {
      ...p.reason, time: now.toISOString(), source: p.file.source, id: p.id, fileKey: p.fileKey, file: dest.name,
      sidecars: p.sidecars.map((source, i) => ({ source, file: dest.sidecars[i] })),
    };
    return { from: p.file.rawPath ?? p.file.path, source: p.file.source, sidecarSources: p.sidecars, dest, reason };
  }
  const dest = archiveDestination(layout.archive, utcDay(now), p.id ?? '', name, sidecarNames, reserved);
  return { from: p.file.rawPath ?? p.file.path, source: p.file.source, sidecarSources: p.sidecars, dest };
}

/**
 * The reason file's text. Details come from processors and may hold values JSON
 * cannot write (BigInt, cycles); they are stringified or dropped rather than
 * failing the move of an already committed group.
 */
export function reasonJson(reason: ReasonFile): string {
  const replacer = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value);
  try {
    return `${JSON.stringify(reason, replacer, 2)}\n`;
  } catch {
    return `${JSON.stringify({ ...reason, details: { unserialisable: true } }, replacer, 2)}\n`;
  }
}

/** `err` as the coded error of a failed move of `move`. */
function moveError(err: unknown, move: Move): BonsaiError {
  if (err instanceof BonsaiError) return err;
  const errno = (err as NodeJS.ErrnoException).code;
  return new BonsaiError('BONSAI_INGEST_MOVE_FAILED', `cannot move ${move.source} to ${join(move.dest.dir, move.dest.name)}: ${(err as Error).message}`, { source: move.source, errno }, { cause: err });
}

/**
 * Carries out planned moves in the crash-safe order above. A move that fails
 * (its reason file, a sidecar or the file) stops only that file's later steps:
 * the others go on. Returns each move's error, or null where it was done.
 */
export function executeMoves(moves: readonly Move[], ctx: IngestContext): (BonsaiError | null)[] {
  const { inbox } = stateLayout(ctx.stateDir);
  const step = ctx.onStep;
  const failed: (BonsaiError | null)[] = moves.map(() => null);
  const attempt = (i: number, work: () => void): void => {
    if (failed[i]) return;
    try {
      work();
    } catch (err) {
      failed[i] = moveError(err, moves[i]);
    }
  };
  const rejects = moves.map((m, i) => i).filter((i) => moves[i].reason);
  const reasonDirs = new Set<string>();
  for (const i of rejects) {
    const m = moves[i];
    attempt(i, () => {
      writeStateFile(join(m.dest.dir, m.dest.name + REASON_SUFFIX), reasonJson(m.reason as ReasonFile), () => step?.('reason-tmp', [m.source]));
      reasonDirs.add(m.dest.dir);
    });
  }
  for (const dir of reasonDirs) fsyncDir(dir);
  for (const i of rejects) if (!failed[i]) step?.('reason', [moves[i].source]);

  const sidecarDirs = new Set<string>();
  moves.forEach((m, i) => {
    m.sidecarSources.forEach((s, k) => attempt(i, () => {
      if (moveFile(inboxPath(inbox, s), join(m.dest.dir, m.dest.sidecars[k]))) sidecarDirs.add(m.dest.dir);
    }));
  });
  for (const dir of sidecarDirs) fsyncDir(dir);
  moves.forEach((m, i) => { if (m.sidecarSources.length && !failed[i]) step?.('sidecars', [m.source]); });

  moves.forEach((m, i) => {
    attempt(i, () => {
      moveFile(m.from, join(m.dest.dir, m.dest.name));
      step?.('moved', [m.source]);
    });
  });
  return failed;
}

/** The outcome reported for a moved file. */
export function outcomeOf(p: Exclude<Prepared, { kind: 'skipped' }>, outcome: CommitOutcome, move: Move, ctx: IngestContext): IngestOutcome {
  const destination = join(move.dest.dir, move.dest.name);
  const source = p.file.source;
  if (outcome === 'rejected') {
    const code = move.reason?.code ?? 'BONSAI_INGEST_PROCESS_FAILED';
    return { outcome, source, id: p.id, modality: p.modality, code, message: move.reason?.message ?? '', destination };
  }
  const id = p.id ?? '';
  const recovered = p.kind === 'recovered';
  if (outcome === 'duplicate') return { outcome, source, id, modality: p.modality, destination, recovered };
  if (outcome === 'relabeled') return { outcome, source, id, modality: p.modality, destination, recovered, relabel: ctx.store.lastRelabelFrom(source) };
  // A recovered sample's features are in the store already.
  const sample = p.kind === 'sample' && p.sample ? p.sample : ctx.store.getSample(id);
  return { outcome, source, id, modality: sample?.modality ?? p.modality ?? 'image', shape: sample?.shape ?? [], destination, recovered };
}
