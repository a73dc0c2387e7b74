/**
 * Mutual exclusion of registry writers: a promise chain per directory inside a
 * process, and the pid lock file `models/.lock` across processes (the sample
 * store's lock, pipelines/store/lock.ts). A writer holds it for one operation
 * only, so a trainer child and its parent daemon can both write, one at a time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { acquireWriterLock, type WriterLock } from '../../pipelines/store/lock.ts';

/** Name of the lock file in the models directory. */
export const LOCK_FILE = '.lock';

const chains = new Map<string, Promise<void>>();

async function acquire(dir: string, timeoutMs: number): Promise<WriterLock> {
  const path = join(dir, LOCK_FILE);
  const start = Date.now();
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return acquireWriterLock(path);
    } catch (err) {
      if (!(err instanceof BonsaiError) || err.code !== 'BONSAI_STORE_LOCKED') throw err;
      const waited = Date.now() - start;
      if (waited >= timeoutMs) {
        throw new BonsaiError('BONSAI_REGISTRY_LOCKED', `model registry ${dir} stayed locked by pid ${String(err.details.pid)} for ${waited} ms`,
          { dir, pid: err.details.pid, waitedMs: waited }, { cause: err });
      }
      await sleep(delay);
    }
  }
}

/** Runs `fn` while holding the registry's write lock (in-process first, then the lock file). */
export async function withWriteLock<T>(dir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const previous = chains.get(dir) ?? Promise.resolve();
  let done = (): void => undefined;
  const gate = new Promise<void>((resolve) => { done = resolve; });
  const mine = previous.then(() => gate);
  chains.set(dir, mine);
  await previous;
  try {
    const lock = await acquire(dir, timeoutMs);
    try {
      return await fn();
    } finally {
      lock.release();
    }
  } finally {
    done();
    if (chains.get(dir) === mine) chains.delete(dir);
  }
}
