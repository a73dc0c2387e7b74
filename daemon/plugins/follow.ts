/**
 * The plugins of a serving-only process (`role: server`, daemon/serving-only.ts):
 * the trainer's registry opened read-only, and the follower that swaps in each
 * new champion, polled every `pollMs`.
 *
 * Following is edge-triggered: it acts when the champion changes, not whenever
 * it differs from what is served, so that an operator's swap on this server
 * (forwarded to the trainer) is never undone by a poll that read the champion
 * just before the trainer wrote it; a forwarded change moves `lastSeen`
 * itself, and a poll that overlapped it (another generation) is discarded.
 */
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { openRegistry } from '../registry/index.ts';
import { checksumDifferences, type ModelMirror } from '../serving/mirror.ts';
import { reportModel } from '../metrics/index.ts';
import { nothingToStop, type DaemonContext, type DaemonPlugin } from './context.ts';

/** Causes of a failed swap that a later poll may cure (the download is tried again). */
const RETRIED_CAUSES: ReadonlySet<unknown> = new Set(['BONSAI_DAEMON_TRAINER_UNREACHABLE', 'BONSAI_DAEMON_DOWNLOAD_FAILED']);

/** Why a server cannot read the champion it follows: the error's code and message, and since when (ISO time). */
export interface FollowProblem {
  code: string;
  message: string;
  since: string;
}

/** Follows the trainer's champion: over HTTP through `mirror`, else in the registry on a shared volume. */
export class ChampionFollower {
  /**
   * The champion last seen: its number and its files' checksums; `forwarded` when only the number is
   * known (a change this server forwarded), `failed` when its swap failed for a cause a poll may cure.
   */
  private seen: { version: number; files: Readonly<Record<string, string>> | 'forwarded' | 'failed' } | null = null;
  private generation = 0;
  private failed: number | null = null;
  private lastProblem: string | null = null;
  private problemNow: FollowProblem | null = null;
  private warnedNoChampion = false;
  /** Whether the start while the trainer could not be reached tried the cache (`serveCached`). */
  private triedCache = false;
  /** Serving that version, not yet confirmed as the trainer's champion. */
  private servedFromCache = false;
  private following: Promise<void> | null = null;

  constructor(private readonly ctx: DaemonContext, private readonly mirror: ModelMirror | null) {}

  /** The last champion seen (or forwarded); null before the first. */
  get lastSeen(): number | null {
    return this.seen?.version ?? null;
  }

  /** Why the last check could not read the champion (the trainer or registry), since when; null when it could. */
  get problem(): FollowProblem | null {
    return this.problemNow;
  }

  /** The champion whose swap failed, until another one is swapped in. */
  get failedVersion(): number | null {
    return this.failed;
  }

  /** Records a champion this server's operator chose through the trainer (a promotion or rollback forwarded). */
  forwarded(version: number): void {
    this.generation += 1;
    this.seen = { version, files: 'forwarded' };
  }

  /** Checks the champion now and swaps if it moved; calls during a check share it. */
  follow(): Promise<void> {
    this.following ??= this.check().finally(() => { this.following = null; });
    return this.following;
  }

  /** Waits for a check in progress. */
  async idle(): Promise<void> {
    await this.following;
  }

  /**
   * A server that starts while its trainer cannot be reached serves the version it served last,
   * from its cache, once: remembered by number and checksums, so the trainer's champion replaces
   * it when it differs (a trainer reset renumbers) and leaves it when it is the same.
   */
  private async serveCached(mirror: ModelMirror, mine: number): Promise<void> {
    this.triedCache = true;
    const last = await mirror.lastServed().catch(() => null);
    if (last === null || mine !== this.generation) return;
    this.seen = { version: last.version, files: last.checksums };
    const result = await this.ctx.get('holder').swapTo(last.version);
    if (result.outcome === 'ok') {
      this.servedFromCache = true;
      this.ctx.log.warn('follow.serving_cached', { version: last.version, trainerUrl: this.ctx.config.trainerUrl, reason: `the trainer cannot be reached (${this.problemNow?.code ?? 'unknown'}); serving version ${last.version}, the one this server served last, from its cache until it can` });
    } else if (mine === this.generation) {
      this.seen = null;
    }
  }

  private async check(): Promise<void> {
    const { log, metrics, config } = this.ctx;
    const registry = this.ctx.get('registry');
    const mine = this.generation;
    let champion;
    try {
      champion = this.mirror ? await this.mirror.current() : await registry.current();
      if (mine !== this.generation) return;
      if (this.problemNow !== null) log.info('follow.recovered', { code: this.problemNow.code, since: this.problemNow.since, trainerUrl: config.trainerUrl, dir: registry.dir });
      this.lastProblem = null;
      this.problemNow = null;
    } catch (err) {
      const code = err instanceof BonsaiError ? err.code : 'unknown';
      if (code !== this.lastProblem) log.warn(this.mirror ? 'follow.trainer_unreachable' : 'follow.registry_unreadable', { dir: registry.dir, trainerUrl: config.trainerUrl, error: err });
      this.lastProblem = code;
      this.problemNow = { code, message: err instanceof Error ? err.message : String(err), since: this.problemNow?.since ?? new Date().toISOString() };
      if (this.mirror && this.seen === null && this.ctx.get('holder').version === null && !this.triedCache) await this.serveCached(this.mirror, mine);
      return;
    }
    if (champion === null) {
      // A trainer that had a champion and has none: its state was reset or its registry lost. What is served stays.
      if (this.seen !== null && !this.warnedNoChampion) log.warn('follow.champion_gone', { serving: this.ctx.get('holder').version, lastSeen: this.seen.version, trainerUrl: config.trainerUrl, dir: registry.dir });
      this.warnedNoChampion = this.seen !== null;
      return;
    }
    this.warnedNoChampion = false;
    // The same number with other files is another model: a trainer whose state was reset numbers from 1 again.
    const files = champion.manifest.checksums;
    const same = this.seen !== null && this.seen.version === champion.version;
    const known = this.seen?.files;
    if (same && (known === 'forwarded' || (typeof known === 'object' && checksumDifferences(known, files).length === 0))) {
      this.seen = { version: champion.version, files };
      // The version served from the cache at a start without the trainer is the champion: now it is known to be.
      if (this.servedFromCache) reportModel(metrics, 'followed', champion.manifest);
      this.servedFromCache = false;
      return;
    }
    this.servedFromCache = false;
    this.seen = { version: champion.version, files };
    // Exported as `followed`, not `champion`: only the trainer's own series say what the champion is,
    // so BonsaiServerVersionLag compares a server with the trainer, not with its own view of it.
    reportModel(metrics, 'followed', champion.manifest);
    const result = await this.ctx.get('holder').swapTo(champion.version, { force: same });
    this.failed = result.outcome === 'failed' ? champion.version : null;
    // A download that could not complete is tried again at the next poll; a checksum or load failure waits for the next champion.
    // Kept as the same number with files unknown, so that the next poll swaps again, forced (a version
    // of the same number may already be served, and an unforced swap would find it `unchanged`).
    if (result.outcome === 'failed' && mine === this.generation && RETRIED_CAUSES.has(result.error?.details.causeCode)) this.seen = { version: champion.version, files: 'failed' };
  }
}

/** Opens the trainer's registry read-only (after the local cache of a mirror); adds it as `registry`. */
export function followedRegistryPlugin(mirror: ModelMirror | null): DaemonPlugin {
  return {
    name: 'registry',
    async start(ctx) {
      if (mirror) await mirror.open();
      ctx.add('registry', await openRegistry(join(ctx.stateDir, 'models'), { readOnly: true }));
      return nothingToStop;
    },
  };
}

/** Polls the champion every `pollMs`; its stop ends the polling and waits for a check in progress. */
export function followPlugin(follower: ChampionFollower, pollMs: number): DaemonPlugin {
  return {
    name: 'follow',
    async start(ctx) {
      const timer = setInterval(() => void follower.follow(), pollMs);
      timer.unref();
      ctx.log.info('follow.started', { registry: ctx.get('registry').dir, pollMs, trainerUrl: ctx.config.trainerUrl });
      return async () => {
        clearInterval(timer);
        await follower.idle();
      };
    },
  };
}
