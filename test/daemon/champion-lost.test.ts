/**
 * A champion lost from the registry (CURRENT gone, or its manifest gone): the
 * daemon says so loudly and falls back to the newest intact earlier champion
 * instead of starting with none (and training an ungated first model), and
 * `bonsai models promote --offline` picks a version without a running daemon.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import type { TrainJob } from '../../daemon/trainer/index.ts';
import { lockStateDir } from '../../daemon/watch/index.ts';
import { promoteOffline } from '../../cli/commands/offline.ts';
import { FAST_UPDATE, TINY_MODEL, tempStateDir, testConfig } from './e2e-helpers.ts';
import { championsOf, corruptWeights, recordingTrainer } from './champion-fallback-helpers.ts';

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'main.ts');

for (const lost of ['CURRENT and the champion\'s manifest', 'the champion\'s manifest']) {
  test(`with ${lost} gone, the daemon restores the newest intact earlier champion, logs it and trains from it`, async () => {
    const stateDir = tempStateDir('bonsai-lost-');
    try {
      await championsOf(stateDir, 3);
      corruptWeights(stateDir, 2); // the previous champion is damaged too: version 1 is the newest intact one
      if (lost.startsWith('CURRENT')) rmSync(join(stateDir, 'models', 'CURRENT'));
      rmSync(join(stateDir, 'models', '3', 'manifest.json'));
      const log = new MemoryLog();
      const jobs: TrainJob[] = [];
      const daemon = await startDaemon(testConfig(stateDir), { log, model: TINY_MODEL, update: FAST_UPDATE, startTrainer: recordingTrainer(jobs), defaultMetrics: false });
      try {
        assert.equal(daemon.holder.version, 1);
        assert.equal((await daemon.registry.current())?.version, 1);
        assert.equal(readFileSync(join(stateDir, 'models', 'CURRENT'), 'utf8'), '1\n');
        const restored = log.events.filter((e) => e.event === 'registry.champion_restored');
        assert.equal(restored.length, 1);
        assert.equal(restored[0].level, 'error');
        assert.equal(restored[0].fields.lost, 3);
        assert.equal(restored[0].fields.version, 1);
        assert.deepEqual((restored[0].fields.skipped as Array<{ version: number }>).map((s) => s.version), [2]);
        const last = (await daemon.registry.history()).at(-1);
        assert.equal(last?.event, 'repair');
        assert.equal(last?.version, 1);
        await daemon.updater.run({ id: 'u-lost', trigger: 'manual', reason: 'test' });
        assert.equal(jobs[0]?.champion, 1, 'the update is gated against the restored champion');
      } finally {
        await daemon.stop('test');
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
}

test('bonsai models promote --offline promotes on the state directory under its lock, refused while a daemon holds it', async () => {
  const stateDir = tempStateDir('bonsai-offline-');
  try {
    await championsOf(stateDir, 3);
    const answer = await promoteOffline(stateDir, 1);
    assert.deepEqual(answer, { version: 1, state: 'promoted', previous: 3, unchanged: false });
    const registry = await openRegistry(join(stateDir, 'models'), { readOnly: true });
    assert.equal((await registry.current())?.version, 1);
    assert.equal((await registry.get(3)).manifest.state, 'retired');

    const lock = lockStateDir(stateDir);
    try {
      await assert.rejects(promoteOffline(stateDir, 2), { code: 'BONSAI_DAEMON_STATE_LOCKED' });
    } finally {
      lock.release();
    }

    const cli = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'models', 'promote', '2', '--offline', '--state-dir', stateDir], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).version, 2);
    assert.equal((await registry.current())?.version, 2);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
