/** The daemon's plugins over one context: parts added once and read in start order, stops in reverse, the store plugin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { Lifecycle } from '../../daemon/lifecycle.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { createMetrics } from '../../daemon/metrics/index.ts';
import { DaemonContext, lifecyclePlugins, nothingToStop, storePlugin, type DaemonParts, type DaemonPlugin } from '../../daemon/plugins/index.ts';
import { StuckEntries } from '../../daemon/stuck.ts';
import { tempStateDir, testConfig } from './e2e-helpers.ts';

function context(stateDir: string, log = new MemoryLog()): DaemonContext {
  return new DaemonContext({ config: testConfig(stateDir), log, metrics: createMetrics({ version: 'test', defaultMetrics: false }), stateDir: resolve(stateDir), token: undefined });
}

/** A state directory the plugins under test never touch. */
const UNUSED_DIR = join(tmpdir(), 'bonsai-plugins-never-created');

const badState = (e: unknown): boolean => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_BAD_STATE';

test('a part is read only once its plugin added it, and added once', () => {
  const ctx = context(UNUSED_DIR);
  assert.throws(() => ctx.get('store'), (e: unknown) => badState(e) && /store has not started/.test((e as Error).message));
  assert.equal(ctx.find('store'), undefined);
  const watcher = {} as DaemonParts['watcher'];
  ctx.add('watcher', watcher);
  assert.equal(ctx.get('watcher'), watcher);
  assert.equal(ctx.find('watcher'), watcher);
  assert.throws(() => ctx.add('watcher', watcher), badState);
});

test('plugins start in order on one context and stop in reverse with the stops they returned; a failed stop is logged and the rest still stop', async () => {
  const calls: string[] = [];
  const log = new MemoryLog();
  const plugin = (name: string, failStop = false): DaemonPlugin => ({
    name,
    async start() {
      calls.push(`start ${name}`);
      return async (reason) => {
        calls.push(`stop ${name} (${reason})`);
        if (failStop) throw new BonsaiError('BONSAI_DAEMON_BAD_STATE', `${name} cannot stop`);
      };
    },
  });
  const quiet: DaemonPlugin = { name: 'quiet', async start() { calls.push('start quiet'); return nothingToStop; } };
  const life = new Lifecycle(lifecyclePlugins(context(UNUSED_DIR, log), [plugin('a'), plugin('b', true), quiet, plugin('c')]), log);
  await life.start();
  await life.stop('test');
  assert.deepEqual(calls, ['start a', 'start b', 'start quiet', 'start c', 'stop c (test)', 'stop b (test)', 'stop a (test)']);
  assert.deepEqual(log.named('plugin.stop_failed').map((f) => f.plugin), ['b']);
  assert.equal(life.state, 'stopped');
});

test('the store plugin adds the store and its gauges, answers the triggers\' query, and its stop closes the store', async () => {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const ctx = context(stateDir, log);
  const life = new Lifecycle(lifecyclePlugins(ctx, [storePlugin(new StuckEntries(log, ctx.metrics.ingestStuck))]), log);
  try {
    await life.start();
    const store = ctx.get('store');
    assert.equal(store.isOpen, true);
    assert.equal(store.oldestPendingAt(), null);
    ctx.get('gauges').refreshSoon();
    await life.stop('test');
    assert.equal(store.isOpen, false);
  } finally {
    await life.stop('test');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
