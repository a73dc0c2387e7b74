/**
 * Reading a small file from an untrusted folder: never through a symbolic link,
 * never blocking on a FIFO, never more than a limit (manifests, sidecar
 * transcripts, `bonsai check`'s inputs).
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';

/** Why a regular-file read failed. */
export type ReadFailure = 'not-found' | 'symlink' | 'directory' | 'not-regular' | 'too-large' | 'unreadable' | 'name-invalid';

/** The outcome of `readRegularFile`. */
export type ReadResult =
  | { ok: true; bytes: Buffer; size: number }
  | { ok: false; reason: ReadFailure; message: string; errno?: string; size?: number };

/** The `code` of a Node.js system error (`ENOENT`, ...), if any. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function readFailure(err: unknown): ReadResult {
  const errno = errnoOf(err);
  const message = err instanceof Error ? err.message : String(err);
  switch (errno) {
    case 'ENOENT':
    case 'ENOTDIR': return { ok: false, reason: 'not-found', message: 'does not exist', errno };
    case 'ELOOP': return { ok: false, reason: 'symlink', message: 'is a symbolic link', errno };
    case 'EISDIR': return { ok: false, reason: 'directory', message: 'is a directory', errno };
    case 'ENAMETOOLONG': return { ok: false, reason: 'name-invalid', message: 'has a name that is too long', errno };
    default: return { ok: false, reason: 'unreadable', message: `cannot be read (${errno ?? message})`, errno };
  }
}

/** Names the kind of a non-regular file system object. */
function kindOf(stats: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most `maxBytes` without following a symbolic
 * link, without blocking on a FIFO, and without reading more than the limit:
 * `lstat` first (the size is checked before anything is read), then `open`
 * with O_NOFOLLOW | O_NONBLOCK and `fstat` to be sure the file opened is the
 * one checked. Never throws; the result says what went wrong.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<ReadResult> {
  let before;
  try {
    before = await lstat(path);
  } catch (err) {
    return readFailure(err);
  }
  if (before.isSymbolicLink()) return { ok: false, reason: 'symlink', message: 'is a symbolic link' };
  if (before.isDirectory()) return { ok: false, reason: 'directory', message: 'is a directory' };
  if (!before.isFile()) return { ok: false, reason: 'not-regular', message: `is ${kindOf(before)}` };
  if (before.size > maxBytes) return { ok: false, reason: 'too-large', message: `has ${before.size} bytes, more than the limit of ${maxBytes}`, size: before.size };
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return readFailure(err);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.ino !== before.ino || stats.dev !== before.dev) {
      return { ok: false, reason: 'not-regular', message: 'was replaced while being opened' };
    }
    // Read to the end but never more than one byte past the limit; start from the
    // size fstat gives (plus one, to notice growth) and grow for files whose size
    // is not known in advance (procfs, some FUSE file systems) or that grew.
    const cap = maxBytes + 1;
    let buffer = Buffer.allocUnsafe(Math.min(cap, Math.max(stats.size, 0) + 1));
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        if (buffer.length === cap) break;
        const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(4096, buffer.length * 2)));
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > maxBytes) return { ok: false, reason: 'too-large', message: `grew past the limit of ${maxBytes} bytes while being read`, size: total };
    return { ok: true, bytes: buffer.subarray(0, total), size: total };
  } catch (err) {
    return readFailure(err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
