/**
 * The update scheduler: decides when the one update at a time starts.
 *
 * - threshold: re-checked on every `notify()` (after each ingest commit);
 * - cron: a node-cron schedule, starting an update on a tick if samples are pending;
 * - max wait: a timer at the moment the oldest pending sample has waited `maxWaitSec`;
 * - manual: `request()` (`POST /v1/updates`), which skips the minimum interval.
 *
 * One update runs at a time. A trigger that fires during an update is
 * coalesced into one queued request (a manual one wins over the others), looked
 * at again when the update ends. Non-manual starts keep `minIntervalSec`
 * between them (a timer re-checks when the interval has passed); after failed
 * updates in a row the wait doubles with each, from 30 s up to an hour
 * (`nextAllowedStart`), so a failure that recurs every time is retried, not looped.
 *
 * The threshold and max wait are states, looked at again on every check; a cron tick is
 * an event, gone once it has passed. So a tick that cannot start an update now (one is
 * running, or the interval holds) is remembered (`cronTick`) and checked like the others
 * until an update starts (any: that update learns the samples the tick was for) or no
 * samples are left pending; ticks meanwhile collapse into it. It lives in memory only:
 * a restart forgets it, as it forgets the last start the interval counts from.
 */
import { schedule, type ScheduledTask } from 'node-cron';
import type { Log } from '../logging.ts';
import { checkCron, firstModelReady, maxWaitDeadline, nextAllowedStart, thresholdDue, type TriggerCounts, type TriggerKind, type TriggerPolicy } from './policy.ts';

/** One update the scheduler starts. */
export interface UpdateRequest {
  /** Unique id, e.g. `u-lx3k2a-1`. */
  id: string;
  trigger: TriggerKind;
  /** Why, in words (the threshold's numbers, the operator's reason). */
  reason: string;
}

/** Answer to a manual request (the HTTP `UpdateRequestResult`). */
export interface RequestAnswer {
  accepted: boolean;
  /** `started`, `queued`, `no-samples`, `no-pending-samples`, `stopping`. */
  state: string;
  id?: string;
  message?: string;
}

/** Options of `UpdateScheduler`. */
export interface UpdateSchedulerArgs {
  policy: TriggerPolicy;
  /** Reads the store's counts (cheap: indexed queries). */
  counts: () => TriggerCounts;
  /** Whether a champion model exists. */
  hasChampion: () => boolean;
  /** Runs one update to its end; must not reject (errors are the runner's to report). An answer with `outcome: 'failed'` counts as a failure. */
  run: (request: UpdateRequest) => Promise<unknown>;
  log: Log;
  /** Clock in ms; default `Date.now`. */
  now?: () => number;
  /** Starts the cron schedule, calling `onTick` on each tick; default node-cron's `schedule` (tests tick by hand). */
  scheduleCron?: (expression: string, onTick: () => void) => { destroy(): void | Promise<void> };
}

/** What the scheduler is doing, for `/v1/status`. */
export interface SchedulerStatus {
  running: (UpdateRequest & { startedAt: string }) | null;
  queued: UpdateRequest | null;
  lastStartAt: string | null;
  /** When the minimum interval lets the next non-manual update start (ISO), null when it already may. */
  nextAllowedAt: string | null;
  /** When max wait will start an update (ISO), null when off or nothing pending. */
  maxWaitAt: string | null;
  /** The threshold comparison, in words. */
  threshold: string;
  cron: string | null;
  /** Updates started since the daemon started. */
  started: number;
  /** Updates that failed in a row, up to the last one (0 after one that did not fail). */
  failuresInARow: number;
}

/** Whether a runner's answer says the update failed. */
function failed(answer: unknown): boolean {
  return typeof answer === 'object' && answer !== null && (answer as { outcome?: unknown }).outcome === 'failed';
}

/** Longest single timer; longer waits are re-armed (setTimeout overflows past 2^31 ms). */
const MAX_TIMER_MS = 3_600_000;

/** The trigger plugin; see the file comment. */
export class UpdateScheduler {
  readonly name = 'triggers';
  private readonly now: () => number;
  private running: (UpdateRequest & { startedAt: number; done: Promise<void> }) | null = null;
  private queued: UpdateRequest | null = null;
  private lastStartAt: number | null = null;
  private cronTask: Pick<ScheduledTask, 'destroy'> | null = null;
  private intervalTimer: NodeJS.Timeout | null = null;
  private maxWaitTimer: NodeJS.Timeout | null = null;
  private maxWaitAt: number | null = null;
  private stopped = true;
  /** What the first model waited for when last logged (the wait and its figures), so each is logged once. */
  private loggedWait: string | null = null;
  private failuresInARow = 0;
  private scheduledCheck = false;
  /** A cron tick not yet served by an update, and the deferral last logged for it (each said once). */
  private cronTick: { reason: string; logged: string | null } | null = null;
  private seq = 0;
  private startedCount = 0;

  constructor(private readonly args: UpdateSchedulerArgs) {
    this.now = args.now ?? Date.now;
    if (args.policy.cron !== null) checkCron(args.policy.cron);
  }

  /** Starts the cron schedule, says when no trigger is on (`trigger.none_enabled`), and checks the thresholds once. */
  async start(): Promise<void> {
    this.stopped = false;
    this.warnIfNoTrigger();
    const cron = this.args.policy.cron;
    if (cron !== null) {
      const onTick = (): void => this.fire('cron', `cron ${cron}`);
      this.cronTask = this.args.scheduleCron ? this.args.scheduleCron(cron, onTick) : schedule(cron, onTick, { name: 'bonsai-update', noOverlap: true });
    }
    this.check();
  }

  /**
   * One warning at start when every trigger that starts an update with a model in place is off
   * (pendingCount, pendingFraction, cron and maxWaitSec all null): the daemon then ingests and
   * never updates by itself, which it would otherwise not say. The first model still starts at
   * initialCount samples.
   */
  private warnIfNoTrigger(): void {
    const { pendingCount, pendingFraction, cron, maxWaitSec, initialCount } = this.args.policy;
    if (pendingCount !== null || pendingFraction !== null || cron !== null || maxWaitSec !== null) return;
    const first = this.args.hasChampion() ? '' : `the first model still starts at triggers.initialCount (${initialCount}) samples; after it, `;
    this.args.log.warn('trigger.none_enabled', {
      reason: `no update trigger is on (triggers.pendingCount, pendingFraction, cron and maxWaitSec are all null): ${first}updates run only when asked (POST /v1/updates, bonsai update)`,
    });
  }

  /** Stops starting updates (the one running is the updater's to stop) and waits for it to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queued = null;
    this.cronTick = null;
    if (this.cronTask) await this.cronTask.destroy();
    this.cronTask = null;
    this.clearTimer('intervalTimer');
    this.clearTimer('maxWaitTimer');
    await this.running?.done;
  }

  /** New samples were committed: re-check the threshold (coalesced to one check per turn of the event loop). */
  notify(): void {
    if (this.scheduledCheck || this.stopped) return;
    this.scheduledCheck = true;
    setImmediate(() => {
      this.scheduledCheck = false;
      this.check();
    });
  }

  /** A manual request (`POST /v1/updates`): starts now, or queues behind the running update. */
  request(reason: string): RequestAnswer {
    if (this.stopped) return { accepted: false, state: 'stopping', message: 'the daemon is shutting down' };
    const counts = this.args.counts();
    if (counts.total === 0) return { accepted: false, state: 'no-samples', message: 'the sample store is empty: drop labelled files into the inbox first' };
    if (this.args.hasChampion() && counts.pending === 0) {
      return { accepted: false, state: 'no-pending-samples', message: `no new samples since the last update (${counts.total} stored, all learned)` };
    }
    const request = this.newRequest('manual', reason);
    if (this.running) {
      if (this.queued?.trigger === 'manual') return { accepted: true, state: 'queued', id: this.queued.id, message: `an update is queued already, behind ${this.running.id}` };
      this.queued = request;
      return { accepted: true, state: 'queued', id: request.id, message: `update ${this.running.id} is running; this one starts when it ends` };
    }
    this.begin(request);
    return { accepted: true, state: 'started', id: request.id };
  }

  /** Whether an update is running now. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves when no update runs or is queued (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  status(): SchedulerStatus {
    const counts = this.args.counts();
    const allowed = nextAllowedStart(this.lastStartAt, this.args.policy, this.failuresInARow);
    const iso = (t: number | null): string | null => (t === null || !Number.isFinite(t) ? null : new Date(t).toISOString());
    return {
      running: this.running ? { id: this.running.id, trigger: this.running.trigger, reason: this.running.reason, startedAt: new Date(this.running.startedAt).toISOString() } : null,
      queued: this.queued,
      lastStartAt: iso(this.lastStartAt),
      nextAllowedAt: allowed > this.now() ? iso(allowed) : null,
      maxWaitAt: iso(maxWaitDeadline(counts, this.args.policy)),
      threshold: thresholdDue(counts, this.args.policy, this.args.hasChampion()).detail,
      cron: this.args.policy.cron,
      started: this.startedCount,
      failuresInARow: this.failuresInARow,
    };
  }

  private newRequest(trigger: TriggerKind, reason: string): UpdateRequest {
    this.seq += 1;
    return { id: `u-${this.now().toString(36)}-${this.seq}`, trigger, reason };
  }

  /**
   * A cron tick: when samples are pending (and the first model may start), remembered until an
   * update starts; `check()` starts it now, or defers it behind a running update or the interval.
   */
  private fire(trigger: 'cron', reason: string): void {
    if (this.stopped) return;
    const counts = this.args.counts();
    if (counts.pending === 0) {
      this.args.log.debug('trigger.skipped', { trigger, reason: 'no pending samples' });
      return;
    }
    if (!this.firstModelMayStart(counts, trigger)) return;
    if (this.cronTick) this.args.log.debug('trigger.skipped', { trigger, reason: 'an earlier cron tick is deferred already' });
    else this.cronTick = { reason, logged: null };
    this.check();
  }

  /** Re-checks a deferred cron tick, threshold and max wait; starts an update if one is due and allowed. */
  private check(): void {
    if (this.stopped) return;
    const counts = this.args.counts();
    if (this.cronTick && counts.pending === 0) {
      // Said at info, as its deferral was: the operator who read that it would run reads why it did not.
      this.args.log.info('trigger.dropped', { trigger: 'cron', reason: 'no pending samples left' });
      this.cronTick = null;
    }
    const threshold = thresholdDue(counts, this.args.policy, this.args.hasChampion());
    const deadline = maxWaitDeadline(counts, this.args.policy);
    const now = this.now();
    // A remembered cron tick first: it is what the operator scheduled, and the update it starts is labelled so.
    const due: { trigger: TriggerKind; reason: string } | null = this.cronTick
      ? { trigger: 'cron', reason: this.cronTick.reason }
      : threshold.due
        ? { trigger: 'threshold', reason: threshold.detail }
        : deadline !== null && now >= deadline
          ? { trigger: 'max_wait', reason: `oldest pending sample waited ${Math.round((now - (counts.oldestPendingAt ?? now)) / 1000)} s >= ${this.args.policy.maxWaitSec} s` }
          : null;
    this.armMaxWait(due === null ? deadline : null);
    if (due === null) {
      if (!this.args.hasChampion() && counts.total >= this.args.policy.initialCount) this.firstModelMayStart(counts, 'threshold');
      return;
    }
    if (!this.firstModelMayStart(counts, due.trigger)) return;
    if (this.running) {
      this.queued ??= this.newRequest(due.trigger, due.reason);
      if (due.trigger === 'cron') this.cronDeferred(null, `update ${this.running.id} is running`);
      return;
    }
    const allowed = nextAllowedStart(this.lastStartAt, this.args.policy, this.failuresInARow);
    if (now < allowed) {
      // A cron tick's deferral is said once for each reason; a back-off once, when its timer is
      // armed; the plain minimum interval of the threshold and max wait not at all (they are re-checked anyway).
      if (due.trigger === 'cron') this.cronDeferred(allowed, this.deferral());
      else if (this.failuresInARow > 0 && !this.intervalTimer) this.args.log.info('trigger.deferred', { trigger: due.trigger, until: new Date(allowed).toISOString(), reason: this.deferral() });
      this.armInterval(allowed);
      return;
    }
    this.begin(this.newRequest(due.trigger, due.reason));
  }

  /** Logs that the remembered cron tick waits, until `until` (null: until the running update ends), unless said already. */
  private cronDeferred(until: number | null, reason: string): void {
    if (!this.cronTick) return;
    const fields = { trigger: 'cron', until: until === null ? null : new Date(until).toISOString(), reason };
    const said = JSON.stringify(fields);
    if (this.cronTick.logged === said) return;
    this.cronTick.logged = said;
    this.args.log.info('trigger.deferred', fields);
  }

  /** Why a non-manual start waits: the minimum interval, or the back-off after failed updates. */
  private deferral(): string {
    return this.failuresInARow === 0 ? 'minimum interval' : `${this.failuresInARow} failed update${this.failuresInARow === 1 ? '' : 's'} in a row: the wait doubles with each`;
  }

  /**
   * True when the first model may start; before it, false (logged once per figure) while the
   * store holds too few validation samples (`trigger.waiting_for_validation`) or, for a
   * classifier, fewer than two classes (`trigger.waiting_for_classes`).
   */
  private firstModelMayStart(counts: TriggerCounts, trigger: TriggerKind): boolean {
    if (this.args.hasChampion()) return true;
    const ready = firstModelReady(counts, this.args.policy);
    if (ready.ok) return true;
    if (this.loggedWait !== ready.detail) {
      this.loggedWait = ready.detail;
      this.args.log.warn(`trigger.waiting_for_${ready.waits}`, { trigger, reason: ready.detail });
    }
    return false;
  }

  private begin(request: UpdateRequest): void {
    const startedAt = this.now();
    this.lastStartAt = startedAt;
    this.startedCount += 1;
    this.clearTimer('intervalTimer');
    // Whatever starts it, this update learns the samples a remembered cron tick was for.
    this.cronTick = null;
    this.args.log.info('trigger.fired', { id: request.id, trigger: request.trigger, reason: request.reason });
    const done = this.args.run(request).then(
      (answer) => { this.failuresInARow = failed(answer) ? this.failuresInARow + 1 : 0; },
      (err: unknown) => {
        this.failuresInARow += 1;
        this.args.log.error('update.unhandled', { id: request.id, error: err });
      },
    ).then(() => {
      this.running = null;
      const next = this.queued;
      this.queued = null;
      if (this.stopped) return;
      if (next?.trigger === 'manual') {
        const counts = this.args.counts();
        if (counts.pending > 0 || !this.args.hasChampion()) {
          this.begin(next);
          return;
        }
        this.args.log.info('trigger.dropped', { id: next.id, trigger: next.trigger, reason: 'no pending samples left' });
      }
      // Also after a dropped manual request: a cron tick remembered behind it is dropped (logged) there.
      this.check();
    });
    this.running = { ...request, startedAt, done };
  }

  private armInterval(at: number): void {
    if (this.intervalTimer) return;
    this.intervalTimer = setTimeout(() => {
      this.intervalTimer = null;
      this.check();
    }, Math.min(MAX_TIMER_MS, Math.max(1, at - this.now())));
    this.intervalTimer.unref();
  }

  private armMaxWait(at: number | null): void {
    if (at === this.maxWaitAt && this.maxWaitTimer) return;
    this.clearTimer('maxWaitTimer');
    this.maxWaitAt = at;
    if (at === null) return;
    this.maxWaitTimer = setTimeout(() => {
      this.maxWaitTimer = null;
      this.maxWaitAt = null;
      this.check();
    }, Math.min(MAX_TIMER_MS, Math.max(1, at - this.now())));
    this.maxWaitTimer.unref();
  }

  private clearTimer(which: 'intervalTimer' | 'maxWaitTimer'): void {
    const t = this[which];
    if (t) clearTimeout(t);
    this[which] = null;
  }
}
