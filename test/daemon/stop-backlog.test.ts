/**
 * A stop with a backlog in the inbox: it waits for the files being prepared, not for the
 * backlog (which the next start ingests), and the files committed while it stops start no
 * update. Before, a stop drained every queued file (15,000 took 35 s, past a supervisor's stop
 * timeout for larger ones) and a commit during that drain started an update the stop then aborted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { drop, FAST_UPDATE, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const FILES = 400;

/** Sample files left under `inbox/`. */
function inInbox(stateDir: string): number {
  return readdirSync(join(stateDir, 'inbox'), { recursive: true }).filter((n) => String(n).endsWith('.png')).length;
}

test('a stop leaves the queued backlog in the inbox and starts no update; the next start ingests it once', async () => {
  const stateDir = tempStateDir();
  // The threshold is reached during the backlog: files committed while stopping would have started an update.
  const config = testConfig(stateDir, { ingest: { awaitWriteFinishMs: 0 }, triggers: { pendingCount: 60, initialCount: 60 } });
  try {
    await drop(join(stateDir, 'inbox'), FILES, 0);
    const log = new MemoryLog();
    const daemon = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
    await waitFor('the first samples stored', () => daemon.store.counts().total >= 5, 30_000, 1);
    const stopAt = log.events.length;
    await daemon.stop('test');
    const left = log.events.find((e) => e.event === 'ingest.left_in_inbox');
    assert.ok(left, 'the files left are said');
    assert.ok(Number(left.fields.files) > 0);
    assert.ok(inInbox(stateDir) > 0, 'the backlog stays in the inbox');
    assert.deepEqual(log.events.slice(stopAt).filter((e) => e.event === 'trigger.fired'), [], 'no update started by the stop\'s commits');

    // The next start ingests the rest: every file stored once.
    const again = await startDaemon(config, { model: TINY_MODEL, update: { ...FAST_UPDATE }, log: new MemoryLog(), defaultMetrics: false });
    try {
      await waitFor('the inbox to empty', () => inInbox(stateDir) === 0, 60_000);
      await waitFor('every file stored', () => again.store.counts().total === FILES, 30_000);
    } finally {
      await again.stop('test');
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
