/**
 * `bonsai models promote V --offline`: promotes a version on the state
 * directory itself, with no daemon running (the advice of
 * `BONSAI_REGISTRY_CURRENT_MISSING`, which keeps the daemon from starting). It
 * takes the state directory's lock, so it is refused while a daemon owns the
 * directory (`BONSAI_DAEMON_STATE_LOCKED`: use the HTTP promote then), and the
 * registry checks the version's checksums as for any promotion.
 */
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

/** Promotes `version` in `<stateDir>/models` while holding the state lock (see the file comment). */
export async function promoteOffline(stateDir: string, version: number): Promise<OfflinePromotion> {
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
