/**
 * Reading one inbox entry for the ingest protocol without ever following a
 * symbolic link or opening anything but a regular file (POSIX `lstat`,
 * O_NOFOLLOW, O_NONBLOCK, then `fstat` to be sure the file opened is the one
 * looked at). Entries that are not regular files are decided here, unread.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import type { IngestContext, IngestFile } from './context.ts';
import { entryExists, fileKeyOf, sourceOf } from './files.ts';
import type { Prepared } from './prepare.ts';
import { controlCharacter } from './sample-names.ts';

/** `<file>.done` marker of a producer, if present: it moves with the file. */
export function doneMarker(file: IngestFile, inbox: string): string[] {
  const marker = `${file.path}.done`;
  return entryExists(marker) ? [sourceOf(inbox, marker)] : [];
}

/** What `readEntry` found: the bytes and stats of a regular file, or the decision about an entry that is not one. */
export type Entry = { stats: BigIntStats; bytes: Buffer } | { decided: Prepared };

/** Names the kind of a file-system entry that is neither a regular file, a folder nor a link. */
function kindOf(stats: BigIntStats): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** The inbox source of the first folder between the inbox and `file` that is a link (or not a folder), if any. */
function linkedAncestor(file: IngestFile, inbox: string): string | undefined {
  const parts = file.source.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const source = parts.slice(0, i).join('/');
    try {
      if (!lstatSync(join(inbox, ...parts.slice(0, i))).isDirectory()) return source;
    } catch {
      return undefined; // gone: the read below says so
    }
  }
  return undefined;
}

/**
 * Reads the inbox entry `file` without ever following a link or opening
 * anything but a regular file: the folders on its way must be real folders,
 * the entry is `lstat`ed, then opened with O_NOFOLLOW | O_NONBLOCK and checked
 * with `fstat` to be the entry looked at. Links, FIFOs, sockets, devices, names
 * that are not UTF-8, oversized and empty files are decided here, unread.
 */
export function readEntry(file: IngestFile, ctx: IngestContext, inbox: string): Entry {
  const skip = (code: string, message: string, details: Record<string, unknown> = {}): Entry => ({ decided: { kind: 'skipped', file, reason: { code, message, details: { source: file.source, ...details } } } });
  const reject = (stats: BigIntStats, code: string, message: string, details: Record<string, unknown>): Entry => ({
    decided: { kind: 'rejected', file, fileKey: fileKeyOf(stats), id: null, reason: { code, message, details }, sidecars: stats.isFile() ? doneMarker(file, inbox) : [] },
  });
  const linked = linkedAncestor(file, inbox);
  if (linked !== undefined) {
    return skip('BONSAI_INGEST_FILE_SYMLINK', `${file.source} lies behind ${linked}, which is a symbolic link or not a folder; links are never followed (the link itself is quarantined)`, { link: linked });
  }
  let stats: BigIntStats;
  try {
    stats = lstatSync(file.rawPath ?? file.path, { bigint: true });
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return skip('BONSAI_INGEST_VANISHED', `cannot read ${file.source}: it no longer exists`, { errno });
    return skip('BONSAI_INGEST_READ_FAILED', `cannot read ${file.source}: ${(err as Error).message}`, { errno });
  }
  if (file.rawPath !== undefined) {
    const nameHex = basenameBytes(file.rawPath).toString('hex');
    return reject(stats, 'BONSAI_INGEST_FILE_NAME_INVALID', `the name of ${file.source} is not valid UTF-8 (bytes ${nameHex}); rename it and drop it again`, { nameHex });
  }
  const control = controlCharacter(file.source);
  if (control !== undefined) {
    return reject(stats, 'BONSAI_INGEST_FILE_NAME_INVALID', `the path ${JSON.stringify(file.source)} contains the control character ${control}; rename it and drop it again`, { character: control });
  }
  if (stats.isSymbolicLink()) {
    let target = '';
    try {
      target = readlinkSync(file.path);
    } catch {
      // gone since: the reason still says it was a link
    }
    return reject(stats, 'BONSAI_INGEST_FILE_SYMLINK', `${file.source} is a symbolic link (to ${target}); links are never followed`, { target });
  }
  if (stats.isDirectory()) return skip('BONSAI_INGEST_NOT_A_FILE', `${file.source} is a folder, not a file`);
  if (!stats.isFile()) return reject(stats, 'BONSAI_INGEST_FILE_NOT_REGULAR', `${file.source} is ${kindOf(stats)}, not a regular file; it was not opened`, { kind: kindOf(stats) });
  const max = ctx.maxFileBytes ?? Infinity;
  if (Number(stats.size) > max) {
    return reject(stats, 'BONSAI_INGEST_FILE_TOO_LARGE', `${file.source} is ${stats.size} bytes, the limit is ${max}`, { bytes: Number(stats.size), maxFileBytes: max });
  }
  let fd: number;
  try {
    fd = openSync(file.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return skip('BONSAI_INGEST_VANISHED', `cannot read ${file.source}: it no longer exists`, { errno });
    if (errno === 'ELOOP') return skip('BONSAI_INGEST_FILE_CHANGED', `${file.source} was replaced by a link while it was opened`, { errno });
    return skip('BONSAI_INGEST_READ_FAILED', `cannot read ${file.source}: ${(err as Error).message}`, { errno });
  }
  try {
    const opened = fstatSync(fd, { bigint: true });
    if (!opened.isFile() || opened.ino !== stats.ino || opened.dev !== stats.dev) {
      return skip('BONSAI_INGEST_FILE_CHANGED', `${file.source} was replaced while it was opened`);
    }
    const bytes = readFileSync(fd);
    if (fileKeyOf(fstatSync(fd, { bigint: true })) !== fileKeyOf(stats)) {
      return skip('BONSAI_INGEST_FILE_CHANGED', `${file.source} changed while it was read; a producer is still writing it`);
    }
    if (bytes.length === 0) return reject(stats, 'BONSAI_INGEST_FILE_EMPTY', `${file.source} is empty (0 bytes)`, { bytes: 0 });
    return { stats, bytes };
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    return skip('BONSAI_INGEST_READ_FAILED', `cannot read ${file.source}: ${(err as Error).message}`, { errno });
  } finally {
    closeSync(fd);
  }
}

/** The last component of a raw path. */
function basenameBytes(raw: Buffer): Buffer {
  const slash = raw.lastIndexOf(0x2f);
  return raw.subarray(slash + 1);
}

