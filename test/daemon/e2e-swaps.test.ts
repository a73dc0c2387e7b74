/**
 * End to end under load: predictions keep succeeding across several hot swaps,
 * and a trainer killed in the middle of an update costs only that update.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { drop, FAST_UPDATE, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

test('concurrent predictions across several swaps: zero failures, and versions only move forward', async () => {
  const stateDir = tempStateDir();
  // The gate lets every candidate through: this test is about swaps (gate.test.ts and e2e-update.test.ts test the gate).
  const d = await startDaemon(testConfig(stateDir, { gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
  try {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('version 1', () => d.holder.version === 1, 45_000);

    let stop = false;
    const failures: string[] = [];
    const seen: number[][] = [];
    const client = async (c: number): Promise<number> => {
      const versions: number[] = [];
      seen.push(versions);
      let n = 0;
      while (!stop) {
        const r: Awaited<ReturnType<typeof predictPng>> = await predictPng(d.url, n % 4, 50_000 + c * 10_000 + n).catch((err: Error) => ({ status: 0, body: { error: { code: err.message } } }));
        if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.body)}`);
        else versions.push(r.body.version as number);
        n++;
      }
      return n;
    };
    const clients = [0, 1, 2].map(client);
    // Two more arrivals: two more updates, each a swap under load (three swaps in all).
    for (let k = 1; k <= 2; k++) {
      await drop(join(stateDir, 'inbox'), 40, 1000 * k);
      await waitFor(`update ${k + 1}`, () => d.updater.records().length >= k + 1 && !d.scheduler.busy, 45_000);
    }
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    const requests = (await Promise.all(clients)).reduce((a, b) => a + b, 0);
    const outcomes = d.updater.records().map((r) => r.outcome);
    assert.deepEqual(outcomes.filter((o) => o === 'failed'), []);
    const swaps = d.holder.status().swaps.ok;
    assert.ok(swaps >= 3, `only ${swaps} swaps (${outcomes.join(', ')})`);
    assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
    assert.ok(requests > 50, `only ${requests} requests`);
    // Each client saw the versions in order (a request never went back to a replaced model).
    for (const versions of seen) {
      for (let i = 1; i < versions.length; i++) assert.ok(versions[i] >= versions[i - 1], `version went from ${versions[i - 1]} to ${versions[i]}`);
    }
    assert.ok(seen.flat().some((v) => v > 1), 'no request saw a later version');
    assert.equal(d.holder.status().draining.length, 0);
  } finally {
    await d.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a trainer killed mid-update fails that update only: the champion keeps serving and the samples are retried', async () => {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir, { triggers: { minIntervalSec: 2 }, gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
  try {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('version 1', () => d.holder.version === 1 && !d.scheduler.busy, 45_000);

    let killed: number | null = null;
    d.events.on('progress', (state, p) => {
      if (killed === null && state.pid !== null && p.kind === 'epoch') {
        killed = state.pid;
        process.kill(state.pid, 'SIGKILL');
      }
    });
    await drop(join(stateDir, 'inbox'), 40, 100);
    await waitFor('the killed update to end', () => d.updater.records().length >= 2, 45_000);
    const failed = d.updater.records()[1];
    assert.ok(killed !== null);
    assert.equal(failed.outcome, 'failed');
    assert.equal(failed.error?.code, 'BONSAI_DAEMON_TRAINER_CRASHED');
    assert.match(failed.error?.message ?? '', /SIGKILL/);
    // Still serving version 1; the 40 new samples are still pending.
    const r = await predictPng(d.url, 2, 7);
    assert.equal(r.status, 200);
    assert.equal(r.body.version, 1);
    assert.equal(d.store.counts().pending, 40);
    assert.equal(log.named('update.failed').length, 1);

    // After the minimum interval the threshold starts the update again, and it succeeds.
    await waitFor('the retry', () => d.updater.records().length >= 3 && !d.scheduler.busy, 45_000);
    const retry = d.updater.records()[2];
    assert.equal(retry.outcome, 'promoted', retry.verdict);
    const started = d.updater.records().map((r) => `${r.id} ${r.trigger} ${r.outcome} ${r.startedAt}`).join('; ');
    assert.ok(Date.parse(retry.startedAt) - Date.parse(failed.startedAt) >= 2000, `the retry started under the minimum interval after the failed update: ${started}`);
    assert.equal(d.holder.version, retry.version);
    assert.equal(d.store.counts().pending, 0);
    const res = await fetch(`${d.url}/metrics`);
    assert.match(await res.text(), /bonsai_updates_total\{trigger="threshold",outcome="failed"\} 1/);
  } finally {
    await d.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
