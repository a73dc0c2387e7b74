/**
 * `bonsai models promote V --offline`: promotes a version on the state
 * directory itself, with no daemon running (the advice of
 * `BONSAI_REGISTRY_CURRENT_MISSING`, which keeps the daemon from starting). It
 * takes the state directory's lock, so it is refused while a daemon owns the
 * directory (`BONSAI_DAEMON_STATE_LOCKED`: use the HTTP promote then), and the
 * registry checks the version's checksums as for any promotion. It works on an
 * existing state directory only and creates none: a mistyped `--state-dir` is
 * refused (`BONSAI_CLI_BAD_ARGUMENT`, exit 2), not made into a new empty one.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { lockStateDir } from '../../daemon/watch/index.ts';

/** What an offline promotion did. */
export interface OfflinePromotion {
  version: number;
  /** The version's state after it (`promoted`). */
  state: string;
  /** The champion before (null when CURRENT was missing or named no valid version). */
  previous: number | null;
  /** True when `version` already was the champion (nothing written). */
  unchanged: boolean;
}

/** The champion CURRENT names, or null when it names none or a version without a valid manifest. */
async function championOrNull(registry: Awaited<ReturnType<typeof openRegistry>>): Promise<number | null> {
  try {
    return (await registry.current())?.version ?? null;
  } catch (err) {
    if (err instanceof BonsaiError && (err.code === 'BONSAI_REGISTRY_CURRENT_MISSING' || err.code === 'BONSAI_REGISTRY_CURRENT_INVALID')) return null;
    throw err;
  }
}

/** What `path` is: a directory, something else, or nothing; an error when it cannot be read (permission denied). */
function kindOf(path: string, from: string): 'directory' | 'other' | 'none' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return 'none';
    throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `cannot read ${JSON.stringify(path)} (the state directory from ${from}): ${errno}`, { path, from, errno }, { cause });
  }
}

/**
 * Refuses a state directory that does not exist, is not a directory or holds no `models/`
 * (BONSAI_CLI_BAD_ARGUMENT, exit 2), so that an offline command creates nothing on a typo.
 */
export function checkStateDir(stateDir: string, from: string): void {
  const dir = resolve(stateDir);
  const refuse = (why: string): never => {
    throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `the state directory ${JSON.stringify(dir)} (from ${from}) ${why}; an offline command works on a daemon's state directory and creates none`,
      { stateDir: dir, from });
  };
  const kind = kindOf(dir, from);
  if (kind !== 'directory') refuse(kind === 'none' ? 'does not exist' : 'is not a directory');
  if (kindOf(join(dir, 'models'), from) !== 'directory') refuse('holds no models/ folder: it is not a bonsai state directory, or no model was published there yet');
}

/**
 * Promotes `version` in `<stateDir>/models` while holding the state lock (see the file comment);
 * `from` says where the state directory came from, for the message of a missing one.
 */
export async function promoteOffline(stateDir: string, version: number, from = 'the caller'): Promise<OfflinePromotion> {
  checkStateDir(stateDir, from);
  const lock = lockStateDir(stateDir);
  try {
    const registry = await openRegistry(join(resolve(stateDir), 'models'));
    const previous = await championOrNull(registry);
    const promoted = await registry.promote(version, 'promoted offline by an operator (bonsai models promote --offline)');
    return { version: promoted.version, state: promoted.manifest.state, previous, unchanged: previous === version };
  } finally {
    lock.release();
  }
}
