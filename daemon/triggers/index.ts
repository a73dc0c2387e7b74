/** When updates start: threshold (count or fraction), cron, max wait, manual; one at a time. */
export { UpdateScheduler } from './scheduler.ts';
export type { UpdateSchedulerArgs, UpdateRequest, RequestAnswer, SchedulerStatus } from './scheduler.ts';
export { thresholdDue, maxWaitDeadline, nextAllowedStart, checkCron } from './policy.ts';
export type { TriggerKind, TriggerPolicy, TriggerCounts, ThresholdVerdict } from './policy.ts';
