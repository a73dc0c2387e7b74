/**
 * The single-writer lock of a sample store: a file `<db>.lock` beside the
 * database holding the writer's pid.
 *
 * The lock file is created atomically with its content (written to a unique
 * temp file, then hard-linked to the lock path, which fails if it exists — the
 * same exclusivity as O_EXCL, without a moment where the file is empty). A lock
 * whose pid is no longer alive is stale (its writer was killed) and is taken
 * over. Known limits: a dead writer's pid reused by an unrelated process looks
 * alive (delete the lock file by hand); the lock is per machine (pids mean
 * nothing across hosts, so do not share a store over NFS).
 */
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { BonsaiError } from '../../core/errors.ts';

/** A held writer lock; `release()` removes the lock file if it is still ours. */
export interface WriterLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Removes the lock file (idempotent). */
  release(): void;
}

/** Whether a process with this pid exists (EPERM means it exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function tryLink(tmp: string, path: string): boolean {
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new BonsaiError('BONSAI_STORE_LOCK_FAILED', `cannot create the store lock ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
}

/**
 * Takes the writer lock at `path` or throws `BONSAI_STORE_LOCKED` with the
 * holder's pid. A stale lock (dead pid, or unreadable content) is replaced.
 */
export function acquireWriterLock(path: string): WriterLock {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, `${process.pid}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryLink(tmp, path)) return makeLock(path);
      const holder = readHolder(path);
      if (holder === process.pid) {
        throw new BonsaiError('BONSAI_STORE_LOCKED', `store ${path} is already open for writing in this process (pid ${holder})`, { path, pid: holder });
      }
      if (holder !== null && isAlive(holder)) {
        throw new BonsaiError('BONSAI_STORE_LOCKED', `store is locked for writing by pid ${holder} (lock file ${path}); stop that process or open read-only`, { path, pid: holder });
      }
      // Stale: move it aside under a unique name and check that what moved is
      // the stale lock we saw; if another process replaced it meanwhile, put
      // that fresh lock back instead of deleting it.
      const aside = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (readHolder(aside) !== holder) tryLink(aside, path);
      unlinkSync(aside);
    }
    throw new BonsaiError('BONSAI_STORE_LOCK_FAILED', `cannot take the store lock ${path}: it kept changing hands`, { path });
  } finally {
    unlinkSync(tmp);
  }
}

function makeLock(path: string): WriterLock {
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readHolder(path) === process.pid) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release);
  return { path, release };
}
