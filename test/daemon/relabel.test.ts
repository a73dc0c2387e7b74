/**
 * A user corrects a label by dropping the same file under the right folder: the running
 * daemon relabels the stored sample, says so at warn with both labels, counts it, shows it
 * in /v1/status, and the sample is pending again for the next update.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { sampleId } from '../../pipelines/ingest/index.ts';
import { png, putFile as put, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

test('the same bytes under another folder relabel the stored sample: logged at warn with both labels, counted, pending again', async () => {
  const stateDir = tempStateDir('bonsai-relabel-');
  const log = new MemoryLog();
  // No update runs: the thresholds are far above the three files.
  const d = await startDaemon(testConfig(stateDir, { triggers: { pendingCount: 1000, initialCount: 1000 } }), { model: TINY_MODEL, log, defaultMetrics: false });
  try {
    const inbox = join(stateDir, 'inbox');
    const bytes = await png(0, 1);
    const id = sampleId(bytes);
    put(inbox, 'a/x.png', bytes);
    put(inbox, 'a/y.png', await png(1, 2));
    const store = d.store;
    await waitFor('two samples stored', () => store.counts().total === 2);
    store.markTrained({ upToSeq: store.lastSeq() }, 1);

    put(inbox, 'b/x-fixed.png', bytes);
    const event = await waitFor('the relabel logged', () => log.events.find((e) => e.event === 'ingest.relabeled'));
    assert.equal(event.level, 'warn');
    assert.equal(event.fields.source, 'b/x-fixed.png');
    assert.equal(event.fields.from, 'a');
    assert.equal(event.fields.to, 'b');
    assert.equal(event.fields.id, id.slice(0, 12));
    assert.equal(event.fields.recovered, false);

    const sample = store.getSample(id);
    assert.equal(sample?.label, 'b');
    assert.equal(sample?.trainedVersion, null, 'pending again');
    assert.deepEqual([store.counts().total, store.counts().pending], [2, 1]);

    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    assert.match(metrics, /bonsai_ingest_files_total\{modality="image",outcome="relabeled"\} 1\n/);
    assert.match(metrics, /bonsai_ingest_files_total\{modality="image",outcome="duplicate"\} 0\n/);
    const status = await (await fetch(`${d.url}/v1/status`)).json() as { store: { relabels: number; duplicates: number; byLabel: Record<string, number> } };
    assert.equal(status.store.relabels, 1);
    assert.equal(status.store.duplicates, 0);
    assert.deepEqual(status.store.byLabel, { a: 1, b: 1 });
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a PNG saved again with other bytes but the same pixels is the stored sample: a duplicate under its label, a relabel under another', async () => {
  const stateDir = tempStateDir('bonsai-reencoded-');
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir, { triggers: { pendingCount: 1000, initialCount: 1000 } }), { model: TINY_MODEL, log, defaultMetrics: false });
  try {
    const inbox = join(stateDir, 'inbox');
    const first = await png(2, 5);
    const raw = await sharp(first).raw().toBuffer({ resolveWithObject: true });
    const again = await sharp(raw.data, { raw: raw.info }).png({ compressionLevel: 0 }).withMetadata({ density: 300 }).toBuffer();
    assert.notDeepEqual(again, first, 'other bytes');
    put(inbox, 'a/x.png', first);
    await waitFor('stored', () => d.store.counts().total === 1);
    put(inbox, 'a/x-again.png', again);
    await waitFor('the copy counted', () => d.store.counts().duplicates === 1);
    assert.equal(d.store.counts().total, 1, 'one sample, in one split');
    const third = await sharp(raw.data, { raw: raw.info }).png({ compressionLevel: 9, adaptiveFiltering: true }).withMetadata({ density: 72 }).toBuffer();
    assert.ok(!third.equals(first) && !third.equals(again), 'other bytes again');
    put(inbox, 'b/x-other.png', third);
    const event = await waitFor('the relabel', () => log.events.find((e) => e.event === 'ingest.relabeled'));
    assert.deepEqual([event.fields.from, event.fields.to], ['a', 'b']);
    assert.equal(d.store.getSample(sampleId(first))?.label, 'b');
    assert.equal(d.store.counts().total, 1);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
