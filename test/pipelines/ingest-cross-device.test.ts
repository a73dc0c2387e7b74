/**
 * An inbox on another filesystem than the archive (deploy/README: a volume of its own for
 * producers in other pods): files are copied across, fsynced, and only then removed from the
 * inbox; before, every file stayed in the inbox (BONSAI_INGEST_CROSS_DEVICE) although its sample
 * was stored, and every reconcile scan read it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { moveFile } from '../../pipelines/ingest/files.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { drop, FAST_UPDATE, tempStateDir, testConfig, TINY_MODEL, waitFor } from '../daemon/e2e-helpers.ts';

const SHM = '/dev/shm';
const otherDevice = existsSync(SHM) && statSync(SHM).dev !== statSync(tmpdir()).dev;
const skip = otherDevice ? false : `needs ${SHM} on another filesystem than ${tmpdir()}`;

test('moveFile across filesystems: a regular file is copied and removed, never over an existing one; a FIFO is refused', { skip }, () => {
  const [there, here] = [mkdtempSync(join(SHM, 'bonsai-xdev-')), mkdtempSync(join(tmpdir(), 'bonsai-xdev-'))];
  try {
    const from = join(there, 'a.png');
    writeFileSync(from, 'bytes of a');
    const to = join(here, 'day', 'a.png');
    assert.equal(moveFile(from, to), true);
    assert.equal(readFileSync(to, 'utf8'), 'bytes of a');
    assert.equal(existsSync(from), false);
    assert.deepEqual(readdirSync(join(here, 'day')), ['a.png'], 'no temporary file left');
    writeFileSync(from, 'bytes of another a');
    assert.throws(() => moveFile(from, to), (e: { code?: string }) => e.code === 'BONSAI_INGEST_DESTINATION_EXISTS');
    assert.equal(readFileSync(to, 'utf8'), 'bytes of a', 'never overwritten');
    assert.equal(moveFile(join(there, 'gone.png'), join(here, 'gone.png')), false);
    const fifo = join(there, 'f.png');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => moveFile(fifo, join(here, 'f.png')), (e: { code?: string }) => e.code === 'BONSAI_INGEST_CROSS_DEVICE');
    assert.ok(existsSync(fifo));
  } finally {
    rmSync(there, { recursive: true, force: true });
    rmSync(here, { recursive: true, force: true });
  }
});

test('a daemon whose inbox is on another filesystem ingests, archives and empties it', { skip }, async () => {
  const stateDir = tempStateDir();
  const inbox = mkdtempSync(join(SHM, 'bonsai-inbox-'));
  try {
    symlinkSync(inbox, join(stateDir, 'inbox'));
    await drop(inbox, 20, 0);
    const daemon = await startDaemon(testConfig(stateDir, { triggers: { pendingCount: 1000, initialCount: 1000 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
    try {
      await waitFor('20 samples stored', () => daemon.store.counts().total === 20, 30_000);
      await waitFor('the inbox to empty', () => readdirSync(inbox, { recursive: true }).filter((n) => String(n).endsWith('.png')).length === 0, 30_000);
      assert.equal(readdirSync(join(stateDir, 'archive'), { recursive: true }).filter((n) => String(n).endsWith('.png')).length, 20);
    } finally {
      await daemon.stop('test');
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(inbox, { recursive: true, force: true });
  }
});
