/**
 * When an update is due, as pure functions of the store's counts (tested
 * without timers). The paper updates when new data reaches 10% of the data
 * already learned (section 5.1: ten arrivals of 10%); the threshold is that
 * fraction by default, or a count.
 */
import { BonsaiError } from '../../core/errors.ts';
import { validate as validCron } from 'node-cron';

/** What starts an update (the `trigger` label of `bonsai_updates_total`). */
export type TriggerKind = 'threshold' | 'cron' | 'max_wait' | 'manual';

/** The trigger settings (config `triggers`). */
export interface TriggerPolicy {
  /** Start at this many pending samples; wins over `pendingFraction`. */
  readonly pendingCount: number | null;
  /** Start when pending samples reach this fraction of the samples already learned. */
  readonly pendingFraction: number | null;
  /** Samples in the store before the first model is trained. */
  readonly initialCount: number;
  /** node-cron expression; an update starts on each tick when samples are pending. */
  readonly cron: string | null;
  /** Least seconds between the starts of two updates (manual requests excepted). */
  readonly minIntervalSec: number;
  /** Start once the oldest pending sample has waited this many seconds; null = off. */
  readonly maxWaitSec: number | null;
  /**
   * Validation samples the store must hold before the first model is trained (config
   * `gate.minValidationSamples`): no model is measured, pruned or gated on a handful.
   */
  readonly minValidationSamples?: number;
  /** Classes the store must hold before the first model is trained: 2 for a classifier (one class is nothing to learn), 0 for speech. */
  readonly minClasses?: number;
}

/** The store's counts that the policy reads. */
export interface TriggerCounts {
  /** Samples no model has trained on. */
  pending: number;
  /** All samples. */
  total: number;
  /** Arrival time (ms since the epoch) of the oldest pending sample, null when none. */
  oldestPendingAt: number | null;
  /** Samples of the validation split (unknown when absent). */
  validation?: number;
  /** Class labels that have samples (unknown when absent). */
  classes?: number;
}

/** The threshold's verdict. */
export interface ThresholdVerdict {
  due: boolean;
  /** Pending samples (or, before the first model, samples) needed; Infinity when the threshold is off. */
  need: number;
  /** What is compared, in words, for logs and status. */
  detail: string;
}

/** Whether pending samples have reached the threshold (before the first model: `initialCount` samples in all). */
export function thresholdDue(counts: TriggerCounts, policy: TriggerPolicy, hasChampion: boolean): ThresholdVerdict {
  if (!hasChampion) {
    const need = policy.initialCount;
    const ready = firstModelReady(counts, policy);
    const detail = `${counts.total} of ${need} samples for the first model${ready.ok ? '' : `, ${ready.detail}`}`;
    return { due: counts.pending > 0 && counts.total >= need && ready.ok, need, detail };
  }
  if (policy.pendingCount !== null) {
    const need = policy.pendingCount;
    return { due: counts.pending >= need, need, detail: `${counts.pending} of ${need} pending samples` };
  }
  if (policy.pendingFraction !== null) {
    const learned = counts.total - counts.pending;
    const need = Math.max(1, Math.ceil(policy.pendingFraction * learned));
    return { due: counts.pending >= need, need, detail: `${counts.pending} pending of ${need} (${policy.pendingFraction} x ${learned} learned)` };
  }
  return { due: false, need: Number.POSITIVE_INFINITY, detail: 'threshold off' };
}

/** When the oldest pending sample will have waited `maxWaitSec` (ms since the epoch), or null. */
export function maxWaitDeadline(counts: TriggerCounts, policy: TriggerPolicy): number | null {
  if (policy.maxWaitSec === null || counts.pending === 0 || counts.oldestPendingAt === null) return null;
  return counts.oldestPendingAt + policy.maxWaitSec * 1000;
}

/** Seconds before the first retry after a failed update; doubled after each further failure in a row. */
export const FAILURE_BACKOFF_SEC = 30;
/** The longest wait after failed updates. */
export const MAX_FAILURE_BACKOFF_SEC = 3600;

/** Seconds the next non-manual start waits after the last start, given the failed updates in a row since the last that did not fail. */
export function startSpacingSec(policy: TriggerPolicy, failuresInARow = 0): number {
  if (failuresInARow === 0) return policy.minIntervalSec;
  return Math.max(policy.minIntervalSec, Math.min(MAX_FAILURE_BACKOFF_SEC, FAILURE_BACKOFF_SEC * 2 ** (failuresInARow - 1)));
}

/**
 * The earliest time (ms) the next non-manual update may start, given the last start: the minimum
 * interval, or after failed updates in a row a wait that doubles with each (30 s, 60 s, ... up to
 * an hour), so that a failure that recurs every time does not start a trainer every few seconds.
 */
export function nextAllowedStart(lastStartAt: number | null, policy: TriggerPolicy, failuresInARow = 0): number {
  return lastStartAt === null ? Number.NEGATIVE_INFINITY : lastStartAt + startSpacingSec(policy, failuresInARow) * 1000;
}

/** Throws `BONSAI_DAEMON_BAD_CRON` for an expression node-cron does not accept. */
export function checkCron(expression: string): void {
  if (!validCron(expression)) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_CRON', `triggers.cron ${JSON.stringify(expression)} is not a valid node-cron expression (e.g. "0 3 * * *" for 03:00 daily)`, { cron: expression });
  }
}

/** What the first model still waits for: validation samples, or a second class. */
export type FirstModelWait = 'validation' | 'classes';

/**
 * Whether the store holds what the first model needs (any trigger but a manual one waits for
 * it): the validation samples to measure it on, and for a classifier at least two classes.
 */
export function firstModelReady(counts: TriggerCounts, policy: TriggerPolicy): { ok: true; detail: '' } | { ok: false; waits: FirstModelWait; detail: string } {
  const needClasses = policy.minClasses ?? 0;
  if (counts.classes !== undefined && counts.classes < needClasses) {
    return { ok: false, waits: 'classes', detail: `${counts.classes} of ${needClasses} classes: a classifier needs samples of at least ${needClasses} labels (inbox/<label>/)` };
  }
  const need = policy.minValidationSamples ?? 0;
  const have = counts.validation;
  if (have === undefined || have >= need) return { ok: true, detail: '' };
  return { ok: false, waits: 'validation', detail: `${have} of ${need} validation samples (gate.minValidationSamples)` };
}
