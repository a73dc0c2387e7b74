/**
 * File-system steps of the ingest protocol: the state directory's folders,
 * file identity, destination names, atomic writes and moves that never
 * overwrite. Nothing here follows a symbolic link: existence is `lstat`, a
 * move renames the entry itself (a link moves as a link), and listings never
 * descend into a linked folder.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, copyFileSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, type BigIntStats } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { writeFileAtomicSync } from '../atomic-write.ts';
import { isInboxInput } from './sample-names.ts';

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

/** Whether anything (a dangling link included) exists at `path`; never follows a link. */
export function entryExists(path: string | Buffer): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Longest file name most file systems take (ext4, XFS, btrfs, APFS: 255 bytes). */
export const MAX_NAME_BYTES = 255;

/** The longest prefix of `text` of at most `bytes` UTF-8 bytes, cut on a character boundary. */
function utf8Prefix(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const c of text) {
    const n = Buffer.byteLength(c);
    if (used + n > bytes) break;
    out += c;
    used += n;
  }
  return out;
}

/**
 * `name`, shortened if needed so that it and `reserveBytes` more (a suffix such
 * as `.reason.json`) fit in `MAX_NAME_BYTES`: the end of the stem is replaced by
 * `~` and 8 hex digits of the full name's SHA-256 (distinct names stay
 * distinct), and an extension of up to 16 bytes is kept.
 */
export function fitName(name: string, reserveBytes = 0): string {
  const room = MAX_NAME_BYTES - reserveBytes;
  if (Buffer.byteLength(name) <= room) return name;
  const hash = `~${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  const rawExt = extname(name);
  const ext = Buffer.byteLength(rawExt) <= 16 ? rawExt : '';
  const stem = name.slice(0, name.length - ext.length);
  return utf8Prefix(stem, room - Buffer.byteLength(hash) - Buffer.byteLength(ext)) + hash + ext;
}

/**
 * Picks the first free name from `candidate(0)`, `candidate(1)`, ... such that
 * the file, its sidecars and `extraSuffixes` (e.g. `.reason.json`) all are free,
 * on disk and in `reserved` (names chosen earlier in the same group). Every name
 * fits in `MAX_NAME_BYTES` (see `fitName`).
 */
export function chooseDestination(dir: string, mainName: string, sidecarNames: readonly string[], candidate: (n: number) => string, reserved: Set<string>, extraSuffixes: readonly string[] = []): Destination {
  const reserve = Math.max(0, ...extraSuffixes.map((x) => Buffer.byteLength(x)));
  for (let n = 0; ; n++) {
    const name = fitName(candidate(n), reserve);
    const sidecars = sidecarNames.map((s) => fitName(sidecarDestName(mainName, name, s)));
    const all = [name, ...extraSuffixes.map((s) => name + s), ...sidecars].map((x) => join(dir, x));
    if (new Set(all).size === all.length && all.every((p) => !reserved.has(p) && !entryExists(p))) {
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

/** Whether `name` is a temp file written by `writeStateFile` (left over after a crash). */
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
 * Writes a file of the state directory (a reason file) atomically
 * (pipelines/atomic-write.ts), creating its folder, through a temp file that
 * `isTempName` recognises. `afterTemp` runs before the rename (a fault-injection
 * point). The caller fsyncs the folder.
 */
export function writeStateFile(path: string, data: string, afterTemp?: () => void): void {
  ensureDir(dirname(path));
  const tail = `.${process.pid}.tmp`;
  writeFileAtomicSync(path, data, join(dirname(path), `.${fitName(basename(path), 1 + tail.length)}${tail}`), afterTemp);
}

/**
 * Renames the entry `from` (a file, or a link or FIFO as it is) to `to` (same
 * filesystem), creating `to`'s folder; never overwrites. Returns false if
 * nothing exists at `from` (nothing to move).
 */
export function moveFile(from: string | Buffer, to: string): boolean {
  if (!entryExists(from)) return false;
  const shown = typeof from === 'string' ? from : printableName(from);
  if (entryExists(to)) throw new BonsaiError('BONSAI_INGEST_DESTINATION_EXISTS', `cannot move ${shown}: ${to} exists`, { from: shown, to });
  try {
    ensureDir(dirname(to));
    renameSync(from, to);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !entryExists(from)) return false;
    if (code === 'EXDEV') return copyAcross(from, to, shown, err);
    throw new BonsaiError('BONSAI_INGEST_MOVE_FAILED', `cannot move ${shown} to ${to}: ${(err as Error).message}`, { from: shown, to, errno: code }, { cause: err });
  }
}

/**
 * `moveFile` between filesystems (an inbox mounted from a volume of its own, as deploy/README
 * suggests for producers in other pods): a regular file is copied beside `to` under a temp name
 * (`isTempName`), fsynced, linked to `to` (never overwriting) and only then removed from `from`.
 * A crash between the link and the removal leaves the file in both places; the ingest log knows
 * it as committed, and the next look moves it again, to a free name. Anything else (a link, a
 * FIFO) cannot be copied as it is: BONSAI_INGEST_CROSS_DEVICE.
 */
function copyAcross(from: string | Buffer, to: string, shown: string, cause: unknown): boolean {
  let regular = false;
  try {
    regular = lstatSync(from).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
  }
  if (!regular) throw new BonsaiError('BONSAI_INGEST_CROSS_DEVICE', `cannot move ${shown} to ${to}: it is not a regular file and ${dirname(to)} is on another filesystem, so it cannot be renamed there as it is`, { from: shown, to }, { cause });
  const temp = join(dirname(to), `.${fitName(basename(to), 1 + `.${process.pid}.tmp`.length)}.${process.pid}.tmp`);
  try {
    copyFileSync(from, temp, fsConstants.COPYFILE_EXCL);
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(temp, to);
  } catch (err) {
    rmSync(temp, { force: true });
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'EEXIST') throw new BonsaiError('BONSAI_INGEST_DESTINATION_EXISTS', `cannot move ${shown}: ${to} exists`, { from: shown, to });
    if (errno === 'ENOENT' && !entryExists(from)) return false;
    throw new BonsaiError('BONSAI_INGEST_MOVE_FAILED', `cannot copy ${shown} to ${to} (another filesystem): ${(err as Error).message}`, { from: shown, to, errno }, { cause: err });
  }
  rmSync(temp, { force: true });
  try {
    unlinkSync(from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new BonsaiError('BONSAI_INGEST_MOVE_FAILED', `copied ${shown} to ${to} (another filesystem) but cannot remove it from the inbox: ${(err as Error).message}`, { from: shown, to, errno: (err as NodeJS.ErrnoException).code }, { cause: err });
    }
  }
  return true;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `raw` as UTF-8, or null when it is not valid UTF-8. */
export function decodeName(raw: Uint8Array): string | null {
  try {
    return strictUtf8.decode(raw);
  } catch {
    return null;
  }
}

/** `raw` decoded with every byte that is not valid UTF-8 shown as `_` (a name that can be written anywhere). */
export function printableName(raw: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(raw).replace(/\uFFFD/g, '_');
}

/** What a walk of the inbox found. */
export interface InboxScan {
  /**
   * Entries to hand to the ingest protocol: regular files with sample names
   * (see `inboxCandidates`), and every symbolic link, FIFO, socket or device
   * whatever its name (never followed or opened; the protocol quarantines them).
   */
  candidates: string[];
  /** Raw paths of entries (of any kind, folders too) whose names are not valid UTF-8; they are not descended into. */
  badNames: Buffer[];
}

/** Whether `path` is a real folder (not a link to one). */
export function isFolder(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `path` is a folder, or a link to one (followed for this one path only). */
function isFolderOrLinkToOne(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Walks `dir` (recursively) without following links: folders are entered only
 * when they are real folders, entries whose names are not UTF-8 go to
 * `onBadName` whole (never entered), every other non-folder to `onEntry`.
 */
function walk(dir: string, skipHidden: boolean, onEntry: (path: string, regular: boolean) => void, onBadName: (raw: Buffer) => void, top = true): void {
  // The folder given may itself be a link (an inbox the operator placed elsewhere); nothing below it is followed.
  if (top ? !isFolderOrLinkToOne(dir) : !isFolder(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    if (skipHidden && entry.name[0] === 0x2e) continue;
    const name = decodeName(entry.name);
    if (name === null) onBadName(Buffer.concat([Buffer.from(dir + sep), entry.name]));
    else if (entry.isDirectory()) walk(join(dir, name), skipHidden, onEntry, onBadName, false);
    else onEntry(join(dir, name), entry.isFile());
  }
}

/**
 * Walks the inbox `dir` without following links below it, skipping hidden
 * entries (temp files of atomic writers). Returns sorted results; an absent
 * `dir` yields nothing.
 */
export function scanInbox(dir: string): InboxScan {
  const out: InboxScan = { candidates: [], badNames: [] };
  walk(dir, true, (p, regular) => {
    if (isInboxInput(p, () => !regular)) out.candidates.push(p);
  }, (raw) => out.badNames.push(raw));
  out.candidates.sort();
  out.badNames.sort(Buffer.compare);
  return out;
}

/** Every regular file under `dir` (recursively, never through a link; names that are not UTF-8 left out), as absolute paths, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  walk(dir, false, (p, regular) => {
    if (regular) out.push(p);
  }, () => undefined);
  return out.sort();
}

/**
 * Entries in the inbox that are inputs (`scanInbox(inbox).candidates`):
 * regular files that are not hidden (temp files), `.done` markers, `.txt`
 * sidecars, `manifest.jsonl` or partial downloads, and every link, FIFO,
 * socket or device (to be quarantined) but those named like sidecar
 * transcripts, which go with their recording (`isTranscriptName`).
 */
export function inboxCandidates(inbox: string): string[] {
  return scanInbox(inbox).candidates;
}
