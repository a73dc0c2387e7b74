/** Update triggers: the threshold rules, and the scheduler's one-at-a-time, coalescing, minimum interval, max wait, cron and manual requests. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { checkCron, maxWaitDeadline, nextAllowedStart, thresholdDue, UpdateScheduler, type TriggerCounts, type TriggerPolicy, type UpdateRequest, type UpdateSchedulerArgs } from '../../daemon/triggers/index.ts';
import { waitFor } from './e2e-helpers.ts';

const POLICY: TriggerPolicy = { pendingCount: null, pendingFraction: 0.1, initialCount: 100, cron: null, minIntervalSec: 0, maxWaitSec: null };

test('thresholdDue: initial count before the first model, then a count, or a fraction of the samples learned', () => {
  const c = (pending: number, total: number): TriggerCounts => ({ pending, total, oldestPendingAt: null });
  assert.deepEqual(thresholdDue(c(99, 99), POLICY, false), { due: false, need: 100, detail: '99 of 100 samples for the first model' });
  assert.equal(thresholdDue(c(100, 100), POLICY, false).due, true);
  // Nothing pending (e.g. all marked by a failed first model's update): never due.
  assert.equal(thresholdDue(c(0, 500), POLICY, false).due, false);
  // 10% of 1000 learned = 100 pending.
  assert.deepEqual(thresholdDue(c(99, 1099), POLICY, true), { due: false, need: 100, detail: '99 pending of 100 (0.1 x 1000 learned)' });
  assert.equal(thresholdDue(c(100, 1100), POLICY, true).due, true);
  // ceil: 10% of 1005 learned = 100.5 -> 101.
  assert.equal(thresholdDue(c(100, 1105), POLICY, true).need, 101);
  // A count wins over the fraction.
  assert.deepEqual(thresholdDue(c(40, 10_040), { ...POLICY, pendingCount: 40 }, true), { due: true, need: 40, detail: '40 of 40 pending samples' });
  assert.equal(thresholdDue(c(5, 10), { ...POLICY, pendingFraction: null }, true).due, false);
});

test('max wait deadline, minimum interval and cron validation', () => {
  assert.equal(maxWaitDeadline({ pending: 3, total: 9, oldestPendingAt: 1_000 }, { ...POLICY, maxWaitSec: 60 }), 61_000);
  assert.equal(maxWaitDeadline({ pending: 0, total: 9, oldestPendingAt: null }, { ...POLICY, maxWaitSec: 60 }), null);
  assert.equal(maxWaitDeadline({ pending: 3, total: 9, oldestPendingAt: 1_000 }, POLICY), null);
  assert.equal(nextAllowedStart(null, { ...POLICY, minIntervalSec: 60 }), Number.NEGATIVE_INFINITY);
  assert.equal(nextAllowedStart(5_000, { ...POLICY, minIntervalSec: 60 }), 65_000);
  assert.doesNotThrow(() => checkCron('0 3 * * *'));
  assert.throws(() => checkCron('every day'), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_BAD_CRON' && /every day/.test(e.message));
  assert.throws(() => new UpdateScheduler({ policy: { ...POLICY, cron: '61 * * * *' }, counts: () => ({ pending: 0, total: 0, oldestPendingAt: null }), hasChampion: () => true, run: async () => {}, log: new MemoryLog() }),
    (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_BAD_CRON');
});

test('a scheduler with every trigger off warns once at start; with a champion it leaves the first model out', async () => {
  const off = { pendingCount: null, pendingFraction: null, cron: null, maxWaitSec: null };
  for (const champion of [false, true]) {
    const { scheduler, log } = harness(off, champion);
    await scheduler.start();
    const lines = log.named('trigger.none_enabled');
    assert.equal(lines.length, 1);
    assert.equal(String(lines[0].reason).includes('the first model still starts at triggers.initialCount (100) samples'), !champion);
    assert.match(String(lines[0].reason), /updates run only when asked \(POST \/v1\/updates, bonsai update\)$/);
    await scheduler.stop();
  }
  for (const on of [{ pendingCount: 5 }, { pendingFraction: 0.1 }, { maxWaitSec: 60 }]) {
    const { scheduler, log } = harness({ ...off, ...on });
    await scheduler.start();
    assert.equal(log.named('trigger.none_enabled').length, 0, JSON.stringify(on));
    await scheduler.stop();
  }
});

/** A scheduler over mutable counts whose runs finish when the test says so. */
function harness(policy: Partial<TriggerPolicy> = {}, champion = true, scheduleCron?: UpdateSchedulerArgs['scheduleCron']) {
  const counts: TriggerCounts = { pending: 0, total: 1000, oldestPendingAt: null };
  const runs: Array<UpdateRequest & { finish: () => void }> = [];
  const log = new MemoryLog();
  const scheduler = new UpdateScheduler({
    policy: { ...POLICY, pendingCount: 40, ...policy },
    counts: () => ({ ...counts }),
    hasChampion: () => champion,
    run: (request) => new Promise<void>((resolve) => runs.push({ ...request, finish: () => { counts.pending = 0; resolve(); } })),
    log,
    scheduleCron,
  });
  return { counts, runs, scheduler, log };
}

/**
 * The harness with a cron schedule the test ticks by hand (`cronTick()`): a tick at a chosen
 * moment, e.g. inside the minimum interval or during an update, which node-cron's clock cannot
 * give a test without waiting for it. The threshold is out of reach, so only cron starts updates.
 */
function cronHarness(policy: Partial<TriggerPolicy> = {}) {
  let onTick: (() => void) | null = null;
  const h = harness({ cron: '0 3 * * *', pendingCount: 1_000_000, ...policy }, true, (_expression, tick) => {
    onTick = tick;
    return { destroy: () => { onTick = null; } };
  });
  const cronTick = (): void => {
    assert.ok(onTick, 'the cron schedule runs');
    onTick();
  };
  return { ...h, cronTick };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

test('one update at a time: triggers during an update coalesce into one, looked at again when it ends', async () => {
  const { counts, runs, scheduler } = harness();
  await scheduler.start();
  try {
    counts.pending = 39;
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 0);
    counts.pending = 40;
    scheduler.notify();
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 1);
    assert.equal(runs[0].trigger, 'threshold');
    assert.equal(runs[0].reason, '40 of 40 pending samples');
    assert.equal(scheduler.busy, true);
    // Arrivals during the update: many notifies, one queued update.
    counts.pending = 200;
    for (let i = 0; i < 5; i++) {
      scheduler.notify();
      await tick();
    }
    assert.equal(runs.length, 1);
    assert.equal(scheduler.status().queued?.trigger, 'threshold');
    // The update marks what it trained on; 45 more arrived meanwhile: the queued one starts.
    runs[0].finish();
    counts.pending = 45;
    await waitFor('the queued update', () => runs.length === 2, 2000, 2);
    // And when nothing is due after an update, nothing starts.
    runs[1].finish();
    await tick();
    await scheduler.idle();
    assert.equal(runs.length, 2);
    assert.equal(scheduler.status().started, 2);
  } finally {
    await scheduler.stop();
  }
});

test('the minimum interval defers threshold starts; manual requests skip it but still run one at a time', async () => {
  const { counts, runs, scheduler } = harness({ minIntervalSec: 0.3 });
  await scheduler.start();
  try {
    counts.pending = 40;
    scheduler.notify();
    await waitFor('the first update', () => runs.length === 1, 2000, 2);
    const t0 = Date.now();
    runs[0].finish();
    counts.pending = 50;
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 1, 'started inside the minimum interval');
    assert.ok(scheduler.status().nextAllowedAt !== null);
    await waitFor('the deferred update', () => runs.length === 2, 2000, 2);
    assert.ok(Date.now() - t0 >= 250, `started after ${Date.now() - t0} ms`);
    assert.equal(runs[1].trigger, 'threshold');

    // Manual while one runs: queued, then started when it ends, without waiting for the interval.
    const queued = scheduler.request('operator asked');
    assert.equal(queued.state, 'queued');
    assert.equal(queued.accepted, true);
    assert.equal(scheduler.request('asked twice').id, queued.id);
    runs[1].finish();
    counts.pending = 1;
    await waitFor('the manual update', () => runs.length === 3, 2000, 2);
    assert.equal(runs[2].trigger, 'manual');
    assert.equal(runs[2].id, queued.id);
    assert.equal(runs[2].reason, 'operator asked');
  } finally {
    runs.at(-1)?.finish();
    await scheduler.stop();
  }
});

test('manual requests are refused without samples to learn, and while stopping', async () => {
  const { counts, runs, scheduler } = harness();
  await scheduler.start();
  assert.deepEqual(scheduler.request('x').state, 'no-pending-samples');
  counts.total = 0;
  assert.deepEqual(scheduler.request('x').state, 'no-samples');
  counts.total = 10;
  counts.pending = 3;
  const started = scheduler.request('now');
  assert.deepEqual([started.accepted, started.state], [true, 'started']);
  assert.equal(runs.length, 1);
  runs[0].finish();
  await scheduler.stop();
  assert.deepEqual(scheduler.request('x'), { accepted: false, state: 'stopping', message: 'the daemon is shutting down' });
});

test('max wait starts an update below the threshold once the oldest pending sample has waited long enough', async () => {
  const { counts, runs, scheduler } = harness({ maxWaitSec: 1 });
  counts.pending = 3;
  counts.oldestPendingAt = Date.now() - 850;
  await scheduler.start();
  try {
    assert.equal(runs.length, 0);
    assert.ok(scheduler.status().maxWaitAt !== null);
    await waitFor('the max-wait update', () => runs.length === 1, 2000, 5);
    assert.equal(runs[0].trigger, 'max_wait');
    assert.match(runs[0].reason, /waited 1 s >= 1 s/);
  } finally {
    runs[0]?.finish();
    await scheduler.stop();
  }
});

test('a cron tick starts an update when samples are pending, and does nothing otherwise', async () => {
  const { counts, runs, scheduler } = harness({ cron: '* * * * * *', pendingCount: 1000 });
  await scheduler.start();
  try {
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(runs.length, 0);
    counts.pending = 2;
    await waitFor('a cron update', () => runs.length === 1, 2500, 10);
    assert.equal(runs[0].trigger, 'cron');
  } finally {
    runs[0]?.finish();
    await scheduler.stop();
  }
});

test('a cron tick inside the minimum interval runs once the interval has passed, logged once; ticks meanwhile collapse into it', async () => {
  const { counts, runs, scheduler, log, cronTick } = cronHarness({ minIntervalSec: 0.5 });
  await scheduler.start();
  try {
    counts.pending = 5;
    assert.equal(scheduler.request('operator').state, 'started');
    const t0 = Date.now();
    runs[0].finish();
    counts.pending = 3;
    await tick();
    // Three ticks inside the interval, as a frequent schedule (or a long interval) gives.
    cronTick();
    cronTick();
    cronTick();
    assert.equal(runs.length, 1, 'started inside the minimum interval');
    const until = scheduler.status().nextAllowedAt;
    assert.ok(until !== null);
    assert.deepEqual(log.named('trigger.deferred'), [{ trigger: 'cron', until, reason: 'minimum interval' }], 'one line for three ticks, saying when it runs');
    // The old code logged this and then ran nothing: the interval's timer looked at the threshold and max wait only.
    await waitFor('the deferred cron update', () => runs.length === 2, 2000, 2);
    assert.ok(Date.now() - t0 >= 450, `started after ${Date.now() - t0} ms`);
    assert.deepEqual([runs[1].trigger, runs[1].reason], ['cron', 'cron 0 3 * * *']);
    runs[1].finish();
    counts.pending = 3;
    // Three ticks, one update: nothing more starts after another interval.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(runs.length, 2);
    assert.equal(log.named('trigger.deferred').length, 1);

    // A deferred tick is served by an update that starts before it (it learns the same samples).
    assert.equal(scheduler.request('operator').state, 'started');
    runs[2].finish();
    counts.pending = 3;
    await tick();
    cronTick();
    assert.equal(log.named('trigger.deferred').length, 2);
    assert.equal(scheduler.request('operator').state, 'started');
    runs[3].finish();
    counts.pending = 3;
    await new Promise((r) => setTimeout(r, 700));
    assert.deepEqual(runs.map((r) => r.trigger), ['manual', 'cron', 'manual', 'manual']);
  } finally {
    runs.at(-1)?.finish();
    await scheduler.stop();
  }
});

test('a cron tick during an update runs when it ends (after the minimum interval), or is dropped, logged, when nothing is left to learn', async () => {
  const { counts, runs, scheduler, log, cronTick } = cronHarness({ minIntervalSec: 0.5 });
  await scheduler.start();
  try {
    counts.pending = 5;
    assert.equal(scheduler.request('operator').state, 'started');
    const t0 = Date.now();
    cronTick();
    cronTick();
    cronTick();
    assert.equal(runs.length, 1);
    assert.equal(scheduler.status().queued?.trigger, 'cron');
    assert.deepEqual(log.named('trigger.deferred'), [{ trigger: 'cron', until: null, reason: `update ${runs[0].id} is running` }], 'three ticks, one line');
    // Samples arrived during the update; it ends well inside the minimum interval.
    runs[0].finish();
    counts.pending = 2;
    // The old code dropped the queued tick here without a word.
    await waitFor('the cron update after the running one', () => runs.length === 2, 2000, 2);
    assert.ok(Date.now() - t0 >= 450, `started after ${Date.now() - t0} ms`);
    assert.equal(runs[1].trigger, 'cron');
    const deferred = log.named('trigger.deferred');
    assert.equal(deferred.length, 2, 'then deferred once more, by the interval');
    assert.deepEqual([deferred[1].trigger, deferred[1].reason], ['cron', 'minimum interval']);
    assert.equal(typeof deferred[1].until, 'string');

    // A tick during an update that leaves nothing pending: dropped, and said so.
    cronTick();
    runs[1].finish();
    await waitFor('the dropped tick', () => log.named('trigger.dropped').length === 1, 2000, 2);
    assert.deepEqual(log.named('trigger.dropped'), [{ trigger: 'cron', reason: 'no pending samples left' }]);
    counts.pending = 4;
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(runs.length, 2, 'a dropped tick does not come back');

    // Stopping forgets a deferred tick (it is not kept across a restart).
    assert.equal(scheduler.request('operator').state, 'started');
    runs[2].finish();
    counts.pending = 4;
    await tick();
    cronTick();
    assert.equal(log.named('trigger.deferred').at(-1)?.reason, 'minimum interval');
    await scheduler.stop();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(runs.length, 3);
  } finally {
    runs.at(-1)?.finish();
    await scheduler.stop();
  }
});

test('before the first model, the initial count decides; stop waits for the update in progress', async () => {
  const { counts, runs, scheduler } = harness({ initialCount: 50, pendingCount: 10 }, false);
  counts.total = 49;
  counts.pending = 49;
  await scheduler.start();
  await tick();
  assert.equal(runs.length, 0);
  counts.total = 50;
  counts.pending = 50;
  scheduler.notify();
  await waitFor('the first model', () => runs.length === 1, 2000, 2);
  let stopped = false;
  const stopping = scheduler.stop().then(() => { stopped = true; });
  await tick();
  assert.equal(stopped, false);
  runs[0].finish();
  await stopping;
  assert.equal(stopped, true);
});

test('the first model waits for gate.minValidationSamples validation samples, whatever the trigger but a manual one', async () => {
  const log = new MemoryLog();
  const counts: TriggerCounts = { pending: 200, total: 200, oldestPendingAt: Date.now() - 10_000, validation: 14 };
  const runs: UpdateRequest[] = [];
  const scheduler = new UpdateScheduler({
    policy: { ...POLICY, initialCount: 100, maxWaitSec: 1, minValidationSamples: 100 },
    counts: () => ({ ...counts }), hasChampion: () => false, log,
    run: async (request) => { runs.push(request); counts.pending = 0; },
  });
  await scheduler.start();
  try {
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 0, 'the threshold and the max wait are both due, but 14 validation samples cannot gate a model');
    const waiting = log.named('trigger.waiting_for_validation');
    assert.equal(waiting.length, 1, 'logged once per count');
    assert.match(String(waiting[0].reason), /14 of 100 validation samples/);
    assert.equal(thresholdDue(counts, { ...POLICY, initialCount: 100, minValidationSamples: 100 }, false).due, false);
    counts.validation = 100;
    scheduler.notify();
    await waitFor('the first model', () => runs.length === 1, 2000, 2);
  } finally {
    await scheduler.stop();
  }
});

test('before the first model a classifier waits for a second class; after failed updates in a row the wait doubles, up to an hour', () => {
  const c = (classes: number): TriggerCounts => ({ pending: 150, total: 150, oldestPendingAt: null, validation: 150, classes });
  const classifier: TriggerPolicy = { ...POLICY, initialCount: 100, minValidationSamples: 10, minClasses: 2 };
  assert.deepEqual(thresholdDue(c(1), classifier, false),
    { due: false, need: 100, detail: '150 of 100 samples for the first model, 1 of 2 classes: a classifier needs samples of at least 2 labels (inbox/<label>/)' });
  assert.equal(thresholdDue(c(2), classifier, false).due, true);
  assert.equal(thresholdDue(c(1), { ...classifier, minClasses: 0 }, false).due, true, 'speech has no classes to wait for');
  assert.equal(thresholdDue({ ...c(1), classes: undefined }, classifier, false).due, true, 'unknown: not waited for');

  const p = { ...POLICY, minIntervalSec: 0 };
  assert.deepEqual([0, 1, 2, 3, 7, 8, 20].map((k) => (nextAllowedStart(0, p, k) - 0) / 1000), [0, 30, 60, 120, 1920, 3600, 3600]);
  assert.equal(nextAllowedStart(0, { ...POLICY, minIntervalSec: 600 }, 1), 600_000, 'the minimum interval when longer');
});

test('the scheduler waits for a second class, then backs off after a failed update and resets after one that did not fail', async () => {
  let now = 1_000_000;
  const counts: TriggerCounts = { pending: 150, total: 150, oldestPendingAt: null, validation: 150, classes: 1 };
  const log = new MemoryLog();
  const outcomes = ['failed', 'promoted'];
  const runs: UpdateRequest[] = [];
  const scheduler = new UpdateScheduler({
    policy: { ...POLICY, initialCount: 100, minValidationSamples: 10, minClasses: 2 },
    counts: () => ({ ...counts }), hasChampion: () => false, log, now: () => now,
    run: async (request) => {
      runs.push(request);
      const outcome = outcomes[runs.length - 1] ?? 'promoted';
      // A failed update leaves its samples pending; another learns them.
      if (outcome !== 'failed') counts.pending = 0;
      return { outcome };
    },
  });
  await scheduler.start();
  try {
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 0, 'one class: nothing to learn');
    const waits = log.events.filter((e) => e.event === 'trigger.waiting_for_classes');
    assert.equal(waits.length, 1);
    assert.equal(waits[0].level, 'warn');
    scheduler.notify();
    await tick();
    assert.equal(log.events.filter((e) => e.event === 'trigger.waiting_for_classes').length, 1, 'said once per figure');

    counts.classes = 2;
    scheduler.notify();
    await waitFor('the first start', () => runs.length === 1 && !scheduler.busy);
    assert.equal(scheduler.status().failuresInARow, 1);
    // The update failed and its samples are still pending: no start before 30 s.
    scheduler.notify();
    await tick();
    assert.equal(runs.length, 1);
    assert.equal(scheduler.status().nextAllowedAt, new Date(now + 30_000).toISOString());
    const deferred = log.events.filter((e) => e.event === 'trigger.deferred');
    assert.equal(deferred.length, 1);
    assert.match(String(deferred[0].fields.reason), /^1 failed update in a row/);
    now += 30_000;
    scheduler.notify();
    await waitFor('the retry', () => runs.length === 2 && !scheduler.busy);
    assert.equal(scheduler.status().failuresInARow, 0, 'reset by an update that did not fail');
  } finally {
    await scheduler.stop();
  }
});
