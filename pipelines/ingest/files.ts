/**
 * File-system steps of the ingest protocol: the state directory's folders,
 * file identity, destination names, atomic writes and moves that never
 * overwrite.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, writeSync, type BigIntStats } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';

/** Folders of a state directory (DESIGN.md, "Folders under the state directory"). */
export interface StateLayout {
  root: string;
  inbox: string;
  archive: string;
  quarantine: string;
  store: string;
}

/** The folders and store path under `stateDir`. */
export function stateLayout(stateDir: string): StateLayout {
  const root = resolve(stateDir);
  return { root, inbox: join(root, 'inbox'), archive: join(root, 'archive'), quarantine: join(root, 'quarantine'), store: join(root, 'store.db') };
}

/** Path of `path` relative to the inbox, with `/` separators; throws if it is not inside. */
export function sourceOf(inbox: string, path: string): string {
  const rel = relative(inbox, resolve(path));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new BonsaiError('BONSAI_INGEST_OUTSIDE_INBOX', `${path} is not inside the inbox ${inbox}`, { path, inbox });
  }
  return rel.split(sep).join('/');
}

/** Absolute path of an inbox-relative source. */
export function inboxPath(inbox: string, source: string): string {
  return join(inbox, ...source.split('/'));
}

/**
 * Identity of one file instance: inode, size and modification time in ns. A
 * copy dropped in later has another inode (the first one still exists in
 * archive/), so the same key after a restart means the same, unmoved file.
 */
export function fileKeyOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
}

/** `yyyy-mm-dd` of `date` in UTC (the archive's folder per day). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Name of a sidecar beside a moved file: keeps whatever the sidecar adds to the file's name or stem. */
export function sidecarDestName(mainName: string, mainDest: string, sidecarName: string): string {
  if (sidecarName.startsWith(mainName)) return mainDest + sidecarName.slice(mainName.length);
  const ext = extname(mainName);
  const stem = mainName.slice(0, mainName.length - ext.length);
  if (stem && mainDest.endsWith(ext) && sidecarName.startsWith(stem)) {
    return mainDest.slice(0, mainDest.length - ext.length) + sidecarName.slice(stem.length);
  }
  return `${mainDest}.${sidecarName}`;
}

/** Destination names of a file and its sidecars in one folder. */
export interface Destination {
  dir: string;
  /** The file's new name. */
  name: string;
  /** New names of the sidecars, in the order given. */
  sidecars: string[];
}

/**
 * Picks the first free name from `candidate(0)`, `candidate(1)`, ... such that
 * the file, its sidecars and `extraSuffixes` (e.g. `.reason.json`) all are free,
 * on disk and in `reserved` (names chosen earlier in the same group).
 */
export function chooseDestination(dir: string, mainName: string, sidecarNames: readonly string[], candidate: (n: number) => string, reserved: Set<string>, extraSuffixes: readonly string[] = []): Destination {
  for (let n = 0; ; n++) {
    const name = candidate(n);
    const sidecars = sidecarNames.map((s) => sidecarDestName(mainName, name, s));
    const all = [name, ...extraSuffixes.map((s) => name + s), ...sidecars].map((x) => join(dir, x));
    if (new Set(all).size === all.length && all.every((p) => !reserved.has(p) && !existsSync(p))) {
      all.forEach((p) => reserved.add(p));
      return { dir, name, sidecars };
    }
  }
}

/** `archive/<day>/<hash12>-<name>` (then `<hash12>.1-<name>`, ... if taken). */
export function archiveDestination(archive: string, day: string, id: string, mainName: string, sidecarNames: readonly string[], reserved: Set<string>): Destination {
  const prefix = id.slice(0, 12);
  return chooseDestination(join(archive, day), mainName, sidecarNames, (n) => (n === 0 ? `${prefix}-${mainName}` : `${prefix}.${n}-${mainName}`), reserved);
}

/** `quarantine/<name>` (then `<stem>-1<ext>`, ... if taken), with room for `<name>.reason.json`. */
export function quarantineDestination(quarantine: string, mainName: string, sidecarNames: readonly string[], reserved: Set<string>): Destination {
  const ext = extname(mainName);
  const stem = mainName.slice(0, mainName.length - ext.length);
  return chooseDestination(quarantine, mainName, sidecarNames, (n) => (n === 0 ? mainName : `${stem}-${n}${ext}`), reserved, [REASON_SUFFIX]);
}

/** Suffix of the file explaining a quarantined file. */
export const REASON_SUFFIX = '.reason.json';

/** Whether `name` is a temp file written by `writeFileAtomic` (left over after a crash). */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}

/** fsyncs a directory so the names created or removed in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `dir` (and parents) if missing; fsyncs the parent of the top folder created, so the new folder survives a power cut. */
export function ensureDir(dir: string): void {
  const created = mkdirSync(dir, { recursive: true });
  if (created !== undefined) fsyncDir(dirname(created));
}

/**
 * Writes `data` to `path` atomically: a hidden temp file in the same folder,
 * fsynced, then renamed over `path`. `afterTemp` runs between the two (a
 * fault-injection point).
 */
export function writeFileAtomic(path: string, data: string, afterTemp?: () => void): void {
  ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  afterTemp?.();
  renameSync(tmp, path);
}

/**
 * Renames `from` to `to` (same filesystem), creating `to`'s folder; never
 * overwrites. Returns false if `from` does not exist (nothing to move).
 */
export function moveFile(from: string, to: string): boolean {
  if (!existsSync(from)) return false;
  ensureDir(dirname(to));
  if (existsSync(to)) throw new BonsaiError('BONSAI_INGEST_DESTINATION_EXISTS', `cannot move ${from}: ${to} exists`, { from, to });
  try {
    renameSync(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !existsSync(from)) return false;
    if (code === 'EXDEV') {
      throw new BonsaiError('BONSAI_INGEST_CROSS_DEVICE', `cannot move ${from} to ${to}: inbox, archive and quarantine must be on one filesystem`, { from, to }, { cause: err });
    }
    throw new BonsaiError('BONSAI_INGEST_MOVE_FAILED', `cannot move ${from} to ${to}: ${(err as Error).message}`, { from, to, errno: code }, { cause: err });
  }
}

/** Every regular file under `dir` (recursively), as absolute paths, sorted. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Files in the inbox that are inputs: not hidden (temp files), not `.done`
 * markers, `.txt` sidecars, `manifest.jsonl` or partial downloads.
 */
export function inboxCandidates(inbox: string): string[] {
  return listFiles(inbox).filter((p) => {
    const name = basename(p);
    return !name.startsWith('.') && name !== 'manifest.jsonl' && !/\.(done|txt|tmp|part|partial|crdownload)$/i.test(name);
  });
}
