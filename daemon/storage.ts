/**
 * A full disk (or a full quota) under the state directory: ENOSPC or EDQUOT from the
 * file system, SQLITE_FULL from the sample store.
 *
 * Nothing accepted is lost while it lasts: an inbox file whose commit fails stays in
 * the inbox and is tried again at every reconcile scan; an update that cannot write
 * fails, its samples stay pending and the champion keeps serving. What a full disk
 * needs besides is one clear report instead of a flood: without this module every
 * waiting file was logged as `ingest.failed` at every scan (about 1,100 lines for 300
 * files at a 10 s scan), and an update's failure carried the trainer's raw ENOSPC.
 *
 * `StorageHealth` reports an episode once: `storage.full` (error, code
 * `BONSAI_DAEMON_STORAGE_FULL`, where it was seen, the errno, the free bytes under the
 * state directory) when it starts, the gauge `bonsai_storage_full` and `storage` in
 * `/v1/status` while it lasts, and `storage.recovered` (info, its duration) at the
 * first write that succeeds again. The failures it explains in between are counted
 * (`bonsai_storage_full_errors_total{site}`) and logged at debug level only.
 */
import { statfsSync } from 'node:fs';
import type { Counter, Gauge } from 'prom-client';
import type { ErrorCode } from '../core/errors.ts';
import type { Log } from './logging.ts';
import type { LABEL_VALUES } from './metrics/registry.ts';

/** The code of a failure a full disk explains (docs/errors-daemon.md). */
export const STORAGE_FULL_CODE: ErrorCode = 'BONSAI_DAEMON_STORAGE_FULL';

/** Error codes that mean "no space": the file system's two errnos and SQLite's result code. */
const FULL_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** How many `cause` links are followed (a chain is short; a loop must not hang). */
const MAX_CAUSES = 8;

/** Where a write failed (the `site` label of `bonsai_storage_full_errors_total`). */
export type StorageSite = (typeof LABEL_VALUES.storageSite)[number];

/** `err` and its `cause`s, as far as they are objects (at most MAX_CAUSES: a loop must not hang). */
function* causeChain(err: unknown): Generator<{ code?: unknown; details?: { errno?: unknown } }> {
  let e: unknown = err;
  for (let depth = 0; depth < MAX_CAUSES && typeof e === 'object' && e !== null; depth++) {
    yield e as { code?: unknown; details?: { errno?: unknown } };
    e = (e as { cause?: unknown }).cause;
  }
}

/**
 * The no-space code behind `err` (`ENOSPC`, `EDQUOT` or `SQLITE_FULL`), or null. Looks at
 * `code` and at `details.errno` (how the trainer child passes a system error over its
 * channel) along the `cause` chain; never at messages, which can hold a user's file names.
 */
export function noSpaceCode(err: unknown): string | null {
  for (const { code, details } of causeChain(err)) {
    for (const c of [code, details?.errno]) if (typeof c === 'string' && FULL_CODES.has(c)) return c;
  }
  return null;
}

/**
 * The first system or SQLite error code (`ENOSPC`, `EACCES`, `SQLITE_FULL`, ...) along the
 * `cause` chain of `err`, or undefined. The trainer child sends it as `details.errno`, so
 * the daemon can tell a full disk from other failures of an update.
 */
export function systemErrorCode(err: unknown): string | undefined {
  for (const { code } of causeChain(err)) {
    if (typeof code === 'string' && /^(E[A-Z0-9]+|SQLITE_[A-Z_]+)$/.test(code)) return code;
  }
  return undefined;
}

/** What `/v1/status` shows under `storage`. */
export interface StorageStatus {
  /** True from a write that failed for lack of space until one succeeds. */
  full: boolean;
  /** When the present episode started (ISO 8601), or null. */
  since: string | null;
  /** Where the present episode was first seen, and its errno. */
  site: StorageSite | null;
  errno: string | null;
  /** Failures explained by the present episode. */
  failures: number;
  /** Bytes an unprivileged process may still write under the state directory (null when unknown). */
  freeBytes: number | null;
  /** Episodes since the daemon started. */
  episodes: number;
}

export interface StorageHealthArgs {
  log: Log;
  stateDir: string;
  full: Gauge;
  errors: Counter<'site'>;
  now?: () => number;
}

/** One report per episode of a full disk; see the file comment. */
export class StorageHealth {
  private episode: { since: number; site: StorageSite; errno: string; failures: number } | null = null;
  private episodes = 0;

  constructor(private readonly args: StorageHealthArgs) {
    args.full.set(0);
  }

  /**
   * Notes a failed operation at `site`. True when a full disk explains it (reported here:
   * the caller leaves its file or samples where they are and says no more); false
   * otherwise (the caller reports the error as before).
   */
  failed(site: StorageSite, err: unknown, context: Record<string, unknown> = {}): boolean {
    const errno = noSpaceCode(err);
    if (errno === null) return false;
    this.args.errors.inc({ site });
    if (this.episode) {
      this.episode.failures += 1;
      this.args.log.debug('storage.full_again', { site, errno, ...context });
      return true;
    }
    this.episode = { since: this.now(), site, errno, failures: 1 };
    this.episodes += 1;
    this.args.full.set(1);
    this.args.log.error('storage.full', {
      code: STORAGE_FULL_CODE, site, errno, stateDir: this.args.stateDir, freeBytes: this.freeBytes(),
      reason: `no space left under ${this.args.stateDir} (${errno}): inbox files wait in the inbox and updates fail until space is freed; nothing accepted is lost`,
      error: err, ...context,
    });
    return true;
  }

  /** Notes a write that succeeded at `site`: ends an episode (reported once). */
  succeeded(site: StorageSite): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = null;
    this.args.full.set(0);
    this.args.log.info('storage.recovered', { site, seconds: Math.round((this.now() - episode.since) / 1000), failures: episode.failures, freeBytes: this.freeBytes() });
  }

  get full(): boolean {
    return this.episode !== null;
  }

  status(): StorageStatus {
    const e = this.episode;
    return {
      full: e !== null, since: e ? new Date(e.since).toISOString() : null, site: e?.site ?? null, errno: e?.errno ?? null,
      failures: e?.failures ?? 0, freeBytes: this.freeBytes(), episodes: this.episodes,
    };
  }

  private now(): number {
    return (this.args.now ?? Date.now)();
  }

  private freeBytes(): number | null {
    try {
      const s = statfsSync(this.args.stateDir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return null;
    }
  }
}
