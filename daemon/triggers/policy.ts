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
    const ready = firstModelValidation(counts, policy);
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

/** The earliest time (ms) the next non-manual update may start, given the last start. */
export function nextAllowedStart(lastStartAt: number | null, policy: TriggerPolicy): number {
  return lastStartAt === null ? Number.NEGATIVE_INFINITY : lastStartAt + policy.minIntervalSec * 1000;
}

/** Throws `BONSAI_DAEMON_BAD_CRON` for an expression node-cron does not accept. */
export function checkCron(expression: string): void {
  if (!validCron(expression)) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_CRON', `triggers.cron ${JSON.stringify(expression)} is not a valid node-cron expression (e.g. "0 3 * * *" for 03:00 daily)`, { cron: expression });
  }
}

/** Whether the store holds the validation samples the first model needs (any trigger but a manual one waits for them). */
export function firstModelValidation(counts: TriggerCounts, policy: TriggerPolicy): { ok: boolean; detail: string } {
  const need = policy.minValidationSamples ?? 0;
  const have = counts.validation;
  if (have === undefined || have >= need) return { ok: true, detail: '' };
  return { ok: false, detail: `${have} of ${need} validation samples (gate.minValidationSamples)` };
}
