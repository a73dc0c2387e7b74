import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseConfig } from '../../config/index.ts';
import { openStore } from '../../pipelines/store/index.ts';
import { ingestFiles } from '../../pipelines/ingest/index.ts';
import { ingestContext } from '../../daemon/plugins/watcher.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { putFile, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

/** A 28x28 grey PNG whose pixels depend on `seed` (distinct files, distinct samples). */
async function png(seed: number): Promise<Buffer> {
  const pixels = Buffer.alloc(28 * 28, 0);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + seed * 97) % 256;
  return sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
}

test('ingest.maxClasses bounds the classes: a file whose folder would be one class too many is quarantined with BONSAI_INGEST_LABEL_LIMIT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-classes-'));
  const store = openStore(join(dir, 'store.db'));
  try {
    const config = parseConfig({ ingest: { maxClasses: 3 } });
    const ctx = ingestContext(config, dir, store, [28, 28, 1]);
    const put = async (label: string, seed: number): Promise<string> => {
      const path = join(dir, 'inbox', label, `${seed}.png`);
      mkdirSync(join(dir, 'inbox', label), { recursive: true });
      writeFileSync(path, await png(seed));
      return path;
    };
    // Five new folders in one batch: the first three labels are admitted, even before any is committed.
    // Prepared one at a time (labels are admitted in the order files finish preparing), all five in one commit.
    const commits: string[][] = [];
    const counted = { ...ctx, onStep: (step: string, sources: readonly string[]) => { if (step === 'commit') commits.push([...sources]); } };
    const first = await ingestFiles([await put('a', 1), await put('b', 2), await put('c', 3), await put('d', 4), await put('e', 5)], counted, { concurrency: 1, maxDelayMs: 5000 });
    assert.equal(commits.length, 1, `one commit of all five, got ${JSON.stringify(commits)}`);
    assert.deepEqual(first.map((o) => [o.source, o.outcome, o.outcome === 'rejected' ? o.code : null]), [
      ['a/1.png', 'accepted', null], ['b/2.png', 'accepted', null], ['c/3.png', 'accepted', null],
      ['d/4.png', 'rejected', 'BONSAI_INGEST_LABEL_LIMIT'], ['e/5.png', 'rejected', 'BONSAI_INGEST_LABEL_LIMIT'],
    ]);
    assert.match(first[3].outcome === 'rejected' ? first[3].message : '', /would be class 4, more than ingest\.maxClasses \(3\)/);
    assert.deepEqual(store.labels().map((l) => l.label).sort(), ['a', 'b', 'c']);
    // Known classes go on; a new context (a restart) counts the store's classes.
    const again = await ingestFiles([await put('b', 6), await put('f', 7)], ingestContext(config, dir, store, [28, 28, 1]));
    assert.deepEqual(again.map((o) => [o.outcome, o.outcome === 'rejected' ? o.code : null]), [['accepted', null], ['rejected', 'BONSAI_INGEST_LABEL_LIMIT']]);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new class named like a known one up to case or - against _ is its own class, reported once to the similar-label callback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-similar-'));
  const store = openStore(join(dir, 'store.db'));
  try {
    const config = parseConfig({});
    const reported: Array<{ label: string; similar: string[]; reason: string }> = [];
    const ctx = ingestContext(config, dir, store, [28, 28, 1], (fields) => reported.push(fields));
    let seed = 0;
    const put = async (label: string): Promise<string> => {
      const path = join(dir, 'inbox', label, `${++seed}.png`);
      mkdirSync(join(dir, 'inbox', label), { recursive: true });
      writeFileSync(path, await png(seed));
      return path;
    };
    await ingestFiles([await put('cat'), await put('golden-retriever'), await put('dog')], ctx, { concurrency: 1 });
    assert.equal(reported.length, 0, 'distinct names are not reported');
    const second = await ingestFiles([await put('Cat'), await put('Cat'), await put('golden_retriever'), await put('dogs')], ctx, { concurrency: 1 });
    assert.deepEqual(second.map((o) => o.outcome), ['accepted', 'accepted', 'accepted', 'accepted'], 'similar labels are admitted, not refused');
    assert.deepEqual(reported.map((r) => [r.label, r.similar]), [['Cat', ['cat']], ['golden_retriever', ['golden-retriever']]]);
    assert.match(reported[0].reason, /the new class "Cat" differs from "cat" only in case/);
    assert.deepEqual(store.labels().map((l) => l.label).sort(), ['Cat', 'cat', 'dog', 'dogs', 'golden-retriever', 'golden_retriever']);
    // After a restart the store's classes are the known ones: a third spelling is reported against both.
    const after: Array<{ label: string; similar: string[] }> = [];
    await ingestFiles([await put('CAT')], ingestContext(config, dir, store, [28, 28, 1], (fields) => after.push(fields)));
    assert.deepEqual(after.map((r) => [r.label, r.similar]), [['CAT', ['Cat', 'cat']]]);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a running daemon logs ingest.label_similar at warn when Cat/ arrives beside cat/', async () => {
  const stateDir = tempStateDir('bonsai-similar-daemon-');
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir, { triggers: { pendingCount: 1000, initialCount: 1000 } }), { model: TINY_MODEL, log, defaultMetrics: false });
  try {
    const inbox = join(stateDir, 'inbox');
    const put = async (source: string, seed: number): Promise<void> => putFile(inbox, source, await png(seed));
    await put('cat/1.png', 1);
    await waitFor('the first sample stored', () => d.store.counts().total === 1);
    await put('Cat/2.png', 2);
    const event = await waitFor('the similar label logged', () => log.events.find((e) => e.event === 'ingest.label_similar'));
    assert.equal(event.level, 'warn');
    assert.equal(event.fields.label, 'Cat');
    assert.deepEqual(event.fields.similar, ['cat']);
    await waitFor('both stored', () => d.store.counts().total === 2);
    assert.deepEqual(d.store.labels().map((l) => l.label).sort(), ['Cat', 'cat']);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
