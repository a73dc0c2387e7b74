/**
 * The single-writer lock of a sample store: a file `<db>.lock` beside the
 * database holding the writer's pid, its start time and the boot id
 * (`<pid> <start> <boot>`; a lock of older versions holds the pid only).
 *
 * The lock file is created atomically with its content (written to a unique
 * temp file, then hard-linked to the lock path, which fails if it exists — the
 * same exclusivity as O_EXCL, without a moment where the file is empty). A lock
 * whose writer is gone is stale (its writer was killed) and is taken over. A
 * writer is gone when its pid is not alive, or when the pid is alive but is
 * another process: the process with that pid started at another time
 * (`/proc/<pid>/stat`, field 22), or the machine was rebooted since (another
 * `/proc/sys/kernel/random/boot_id`). That is what makes a restart work in a
 * container, where node gets the same pid (1 under `unshare -p`, a small one
 * under tini) on every start.
 *
 * Pids mean nothing across PID namespaces: a writer in another container on
 * the same volume (pid 1 there, and pid 1 here another process) would read as
 * gone and lose its lock. So the writer also holds a lock of the kernel's for
 * as long as it runs: an exclusive SQLite transaction on `<lock>.held`, that
 * is an fcntl lock on the file, which every process on the machine sees,
 * whatever its namespace, and which the kernel drops when the holder dies. A
 * lock file is taken over only when that lock is free. Known limits: without
 * `/proc` (not Linux) a dead writer's pid reused by an unrelated process looks
 * alive (delete the lock file by hand); across machines (NFS) the kernel lock
 * is only as good as the file system's locking.
 */
import Database from 'better-sqlite3';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { writeAllSync } from '../atomic-write.ts';
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

/** Who wrote a lock file: the pid and, where known, that process's start time and the boot id. */
interface Holder {
  pid: number;
  /** Start time of the process in clock ticks after boot; undefined in locks of older versions or off Linux. */
  start?: string;
  /** `/proc/sys/kernel/random/boot_id` when the lock was written. */
  boot?: string;
  /** The file's content, to tell two holders apart. */
  raw: string;
}

/** A small file's content, or undefined when it cannot be read (no /proc, a process gone). */
function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of process `pid` in clock ticks after boot (`/proc/<pid>/stat` field 22), or undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  const stat = readSmall(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Fields after the command name (which may hold spaces and parentheses) start at field 3.
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return start !== undefined && /^\d+$/.test(start) ? start : undefined;
}

let identity: { start?: string; boot?: string } | null = null;

/** This process's start time and the boot id, read once. */
function ownIdentity(): { start?: string; boot?: string } {
  identity ??= { start: processStartTime(process.pid), boot: readSmall('/proc/sys/kernel/random/boot_id')?.trim() || undefined };
  return identity;
}

/** The lock file's content for this process. */
function lockContent(): string {
  const { start, boot } = ownIdentity();
  return `${process.pid} ${start ?? '-'} ${boot ?? '-'}\n`;
}

function readHolder(path: string): Holder | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const [pidText, start, boot] = raw.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  const known = (v: string | undefined): string | undefined => (v === undefined || v === '-' ? undefined : v);
  return { pid, start: known(start), boot: known(boot), raw };
}

/**
 * Whether the process that wrote the lock still runs: its pid is alive, the
 * machine was not rebooted since, and the process with that pid started when
 * the writer did (so a pid reused by a restart, e.g. pid 1 in a container, is not it).
 */
function holderLives(holder: Holder): boolean {
  if (!isAlive(holder.pid)) return false;
  const own = ownIdentity();
  if (holder.boot !== undefined && own.boot !== undefined && holder.boot !== own.boot) return false;
  if (holder.start === undefined) return true;
  const start = holder.pid === process.pid ? own.start : processStartTime(holder.pid);
  return start === undefined || start === holder.start;
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
 * The kernel's lock beside the lock file (`<path>.held`, see the file comment): an open
 * exclusive transaction that is never committed, held until `close()` or the process's end;
 * 'busy' when another process (or another open in this one) holds it.
 */
function holdKernelLock(path: string): Database.Database | 'busy' {
  let db: Database.Database;
  try {
    db = new Database(`${path}.held`, { timeout: 0 });
  } catch (err) {
    throw new BonsaiError('BONSAI_STORE_LOCK_FAILED', `cannot open the lock ${path}.held: ${(err as Error).message}`, { path: `${path}.held` }, { cause: err });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return 'busy';
    throw new BonsaiError('BONSAI_STORE_LOCK_FAILED', `cannot take the lock ${path}.held: ${(err as Error).message}`, { path: `${path}.held` }, { cause: err });
  }
}

/**
 * Takes the writer lock at `path` or throws `BONSAI_STORE_LOCKED` with the
 * holder's pid. A stale lock (dead pid, or unreadable content) is replaced.
 */
export function acquireWriterLock(path: string): WriterLock {
  const kernel = holdKernelLock(path);
  if (kernel === 'busy') {
    const holder = readHolder(path);
    if (holder?.pid === process.pid && holderLives(holder)) {
      throw new BonsaiError('BONSAI_STORE_LOCKED', `store ${path} is already open for writing in this process (pid ${holder.pid})`, { path, pid: holder.pid });
    }
    // The pid in the file may be of another PID namespace (a container), where it names another process.
    const who = holder === null ? 'a running process' : `a running process (pid ${holder.pid} in its own PID namespace, which may be another container's)`;
    throw new BonsaiError('BONSAI_STORE_LOCKED', `store is locked for writing by ${who} (lock file ${path}, held in the kernel on ${path}.held); stop that process or open read-only`, { path, pid: holder?.pid ?? null });
  }
  try {
    return takeLockFile(path, kernel);
  } catch (err) {
    kernel.close();
    throw err;
  }
}

function takeLockFile(path: string, kernel: Database.Database): WriterLock {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    writeAllSync(fd, Buffer.from(lockContent()));
    fsyncSync(fd);
  } catch (err) {
    // A full disk fails the write: the temp file must not outlive the attempt (each one would stay for good).
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryLink(tmp, path)) return makeLock(path, kernel);
      const holder = readHolder(path);
      if (holder !== null && holderLives(holder)) {
        if (holder.pid === process.pid) {
          throw new BonsaiError('BONSAI_STORE_LOCKED', `store ${path} is already open for writing in this process (pid ${holder.pid})`, { path, pid: holder.pid });
        }
        throw new BonsaiError('BONSAI_STORE_LOCKED', `store is locked for writing by pid ${holder.pid} (lock file ${path}); stop that process or open read-only`, { path, pid: holder.pid });
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
      if (readHolder(aside)?.raw !== holder?.raw) tryLink(aside, path);
      unlinkSync(aside);
    }
    throw new BonsaiError('BONSAI_STORE_LOCK_FAILED', `cannot take the store lock ${path}: it kept changing hands`, { path });
  } finally {
    unlinkSync(tmp);
  }
}

function makeLock(path: string, kernel: Database.Database): WriterLock {
  let held = true;
  const mine = lockContent();
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (readHolder(path)?.raw === mine) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
    // Last: the lock file is gone before another process can take the kernel's lock.
    kernel.close();
  };
  process.on('exit', release);
  return { path, release };
}
