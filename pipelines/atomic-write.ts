/**
 * Atomic replacement of a small file: readers, and a restart after a crash, see
 * the old content or the new, never a mix. One protocol for the whole project:
 * write a hidden temp file in the target's folder, fsync it, rename it over the
 * target; a temp file whose write or rename failed is removed, one left by a crash
 * is recognised by its name and removed by the writer's recovery.
 *
 * Two forms, as in node:fs: `writeFileAtomic` for the daemon's event loop (the
 * registry, the serving mirror), which also fsyncs the folder so that the rename
 * is durable; `writeFileAtomicSync` for the ingest protocol, synchronous from end
 * to end, whose callers fsync each folder once after writing several files.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes all of `bytes` at the file's position: one writeSync may write less than it was given (a
 * nearly full disk), and a short write fsynced and renamed into place would be a truncated file.
 */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw Object.assign(new Error(`write returned ${n} with ${bytes.length - done} bytes left`), { code: 'EIO' });
    done += n;
  }
}

/** Flushes a file or directory to disk. Directories that cannot be opened for fsync (some platforms) are skipped. */
export async function fsyncPath(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'EPERM' || code === 'EACCES') return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EBADF' && code !== 'EPERM') throw err;
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` through the temp file `tempPath` (in the same
 * folder, hidden, named so that its writer's recovery recognises a leftover),
 * then fsyncs the folder. `tempPath` must not exist.
 */
export async function writeFileAtomic(path: string, data: string, tempPath: string): Promise<void> {
  const handle = await open(tempPath, 'wx');
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tempPath, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tempPath, path);
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }
  await fsyncPath(dirname(path));
}

/**
 * The synchronous form: replaces `path` with `data` through `tempPath` (overwritten
 * if a dead writer left it). `afterTemp` runs between the temp file's fsync and
 * the rename (a fault-injection point: what it throws leaves the temp file, as a
 * crash would). The folder is not fsynced: the caller does it once per folder.
 */
export function writeFileAtomicSync(path: string, data: string, tempPath: string, afterTemp?: () => void): void {
  const fd = openSync(tempPath, 'w');
  try {
    writeAllSync(fd, Buffer.from(data));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tempPath, { force: true });
    throw err;
  }
  closeSync(fd);
  afterTemp?.();
  try {
    renameSync(tempPath, path);
  } catch (err) {
    rmSync(tempPath, { force: true });
    throw err;
  }
}
