/**
 * One daemon per state directory: `<stateDir>/daemon.lock` holds the owner's
 * pid, start time and boot id (the sample store's lock file protocol,
 * pipelines/store/lock.ts: created atomically, a dead owner's lock is taken
 * over, also when a restart in a container reuses the owner's pid). A second
 * daemon on the same directory fails at start with `BONSAI_DAEMON_STATE_LOCKED`
 * naming the owner.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { acquireWriterLock, type WriterLock } from '../../pipelines/store/index.ts';

/** Name of the lock file in the state directory. */
export const STATE_LOCK_FILE = 'daemon.lock';

/** Takes the state directory's lock (creating the directory) or throws `BONSAI_DAEMON_STATE_LOCKED`. */
export function lockStateDir(stateDir: string): WriterLock {
  const dir = resolve(stateDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    const why = errno === 'EEXIST' || errno === 'ENOTDIR' ? 'it (or a folder on the way) is a file' : errno === 'EACCES' || errno === 'EPERM' ? 'permission denied' : (cause as Error).message;
    throw new BonsaiError('BONSAI_DAEMON_STATE_DIR_INVALID', `cannot use ${dir} as the state directory: ${why}`, { stateDir: dir, errno }, { cause });
  }
  const path = join(dir, STATE_LOCK_FILE);
  try {
    return acquireWriterLock(path);
  } catch (err) {
    if (err instanceof BonsaiError && err.code === 'BONSAI_STORE_LOCKED') {
      const pid = err.details.pid;
      throw new BonsaiError('BONSAI_DAEMON_STATE_LOCKED', `state directory ${dir} is owned by another bonsai daemon (pid ${String(pid)}); stop it or use another --state-dir`,
        { stateDir: dir, pid, lockFile: path }, { cause: err });
    }
    throw err;
  }
}
