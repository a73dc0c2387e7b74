import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, splitOf, checkSplitRatios, type SampleStore, type SampleBatch } from '../../pipelines/store/index.ts';
import type { ProcessedSample } from '../../pipelines/types.ts';
import { BonsaiError } from '../../core/errors.ts';

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function image(values: number[], shape = [values.length]): ProcessedSample {
  return { modality: 'image', features: Float32Array.from(values), shape };
}

function withStore(fn: (store: SampleStore, path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-store-'));
  const path = join(dir, 'store.db');
  const store = openStore(path);
  try {
    fn(store, path);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function collect(batches: Iterable<SampleBatch>): SampleBatch[] {
  return [...batches];
}

test('splitOf reads the first 8 hex digits as a fraction of 2^32', () => {
  const pad = (p: string): string => p + '0'.repeat(64 - p.length);
  assert.equal(splitOf(pad('00000000')), 'train');
  assert.equal(splitOf(pad('cccccccc')), 'train'); // 0xcccccccc / 2^32 = 0.7999999998
  assert.equal(splitOf(pad('cccccccd')), 'validation'); // 0.8000000000
  assert.equal(splitOf(pad('e6666666')), 'validation'); // 0.8999999999
  assert.equal(splitOf(pad('e6666667')), 'test'); // 0.9000000001
  assert.equal(splitOf(pad('ffffffff')), 'test');
  assert.equal(splitOf(pad('80000000'), { train: 0.5, validation: 0.5, test: 0 }), 'validation');
  assert.equal(splitOf(pad('7fffffff'), { train: 0.5, validation: 0.5, test: 0 }), 'train');
  assert.throws(() => checkSplitRatios({ train: 0.8, validation: 0.1, test: 0.2 }), { code: 'BONSAI_STORE_BAD_SPLIT_RATIOS' });
  assert.throws(() => splitOf('not-hex'), { code: 'BONSAI_STORE_BAD_ID' });
});

test('splits are close to the ratios over many ids', () => {
  const n = 20000;
  const counts = { train: 0, validation: 0, test: 0 };
  for (let i = 0; i < n; i++) counts[splitOf(sha(`sample-${i}`))]++;
  // Binomial standard deviation at p = 0.1, n = 20000 is 42; allow 5 sigma.
  assert.ok(Math.abs(counts.validation - 2000) < 212, `validation ${counts.validation}`);
  assert.ok(Math.abs(counts.test - 2000) < 212, `test ${counts.test}`);
});

test('a sample round-trips with its features, shape, split and label; a second copy is a duplicate', () => {
  withStore((store) => {
    const id = sha('a');
    const features = [0.5, -1.25, 3, 1e-7, 65504, -0];
    assert.equal(store.addSample(id, image(features, [2, 3]), { label: 'cat' }, 'cat/a.png'), 'accepted');
    assert.equal(store.addSample(id, image(features, [2, 3]), { label: 'cat' }, 'cat/a-copy.png'), 'duplicate');
    const s = store.getSample(id);
    assert.ok(s);
    assert.deepEqual(Array.from(s.features), Array.from(Float32Array.from(features)));
    assert.deepEqual(s.shape, [2, 3]);
    assert.equal(s.label, 'cat');
    assert.equal(s.split, splitOf(id));
    assert.equal(s.source, 'cat/a.png');
    assert.equal(s.trainedVersion, null);
    assert.equal(s.seq, 1);
    const counts = store.counts();
    assert.equal(counts.total, 1);
    assert.equal(counts.duplicates, 1);
    const dup = store.db.prepare('SELECT id, source, label FROM duplicates').all();
    assert.deepEqual(dup, [{ id, source: 'cat/a-copy.png', label: 'cat' }]);
    assert.equal(counts.relabels, 0);
  });
});

test('a copy under another label relabels the stored sample: pending again, the next arrival number, the change kept', () => {
  withStore((store) => {
    const id = sha('mislabelled');
    assert.equal(store.addSample(id, image([1, 2]), { label: 'cat' }, 'cat/a.png'), 'accepted');
    assert.equal(store.addSample(sha('other'), image([3, 4]), { label: 'cat' }, 'cat/b.png'), 'accepted');
    assert.equal(store.markTrained({ upToSeq: store.lastSeq() }, 1), 2);
    const upToSeq = store.lastSeq();

    // The user drops the same bytes under the right folder.
    assert.equal(store.addSample(id, image([1, 2]), { label: 'dog' }, 'dog/a.png', 5000), 'relabeled');
    const s = store.getSample(id);
    assert.ok(s);
    assert.equal(s.label, 'dog');
    assert.equal(s.source, 'dog/a.png');
    assert.equal(s.trainedVersion, null);
    assert.equal(s.seq, 3);
    assert.equal(s.arrivedAt, 5000);
    assert.deepEqual(Array.from(s.features), [1, 2]);
    assert.equal(s.split, splitOf(id));
    assert.deepEqual(store.labels().map((l) => l.label), ['cat', 'dog']);
    assert.deepEqual(store.lastRelabelFrom('dog/a.png'), { id, source: 'dog/a.png', time: 5000, from: { label: 'cat', transcript: null }, to: { label: 'dog', transcript: null } });
    const counts = store.counts();
    assert.deepEqual([counts.total, counts.pending, counts.relabels, counts.duplicates], [2, 1, 1, 0]);
    assert.deepEqual(counts.byLabel, { cat: 1, dog: 1 });

    // An update that snapshotted the arrivals before the relabel does not mark it trained.
    assert.equal(store.markTrained({ upToSeq }, 2), 0);
    assert.equal(store.getSample(id)?.trainedVersion, null);
    // New samples still get fresh arrival numbers.
    assert.equal(store.addSample(sha('later'), image([5, 6]), { label: 'cat' }, 'cat/c.png'), 'accepted');
    assert.equal(store.getSample(sha('later'))?.seq, 4);

    // Back again, and to a transcript: each change is kept, the latest wins; the same target again is a duplicate.
    assert.equal(store.addSample(id, image([1, 2]), { label: 'cat' }, 'cat/a2.png'), 'relabeled');
    assert.equal(store.addSample(id, image([1, 2]), { transcript: 'a cat' }, 'speech/a.wav'), 'relabeled');
    assert.equal(store.addSample(id, image([1, 2]), { transcript: 'a cat' }, 'speech/a-copy.wav'), 'duplicate');
    assert.deepEqual(store.lastRelabelFrom('speech/a.wav')?.from, { label: 'cat', transcript: null });
    assert.deepEqual(store.lastRelabelFrom('speech/a.wav')?.to, { label: null, transcript: 'a cat' });
    assert.equal(store.counts().relabels, 3);
    assert.equal(store.lastRelabelFrom('cat/b.png'), undefined);
  });
});

test('a file with other bytes but the same decoded content is the same sample: a duplicate, or a relabel, never a second sample in another split', () => {
  withStore((store) => {
    const first = sha('x.png saved at level 9');
    const again = sha('x.png saved at level 1');
    assert.equal(store.addSample(first, image([0.25, 0.5], [2]), { label: 'cat' }, 'cat/x.png'), 'accepted');
    assert.equal(store.addSample(again, image([0.25, 0.5], [2]), { label: 'cat' }, 'cat/x-again.png'), 'duplicate');
    assert.equal(store.hasSample(again), false, 'not stored under its own hash');
    assert.deepEqual(store.db.prepare('SELECT id, source FROM duplicates').all(), [{ id: first, source: 'cat/x-again.png' }]);
    // The same features under another shape are another input.
    assert.equal(store.addSample(sha('x as a column'), image([0.25, 0.5], [2, 1]), { label: 'cat' }, 'cat/x-col.png'), 'accepted');
    // Under another label: the stored sample is relabeled, found by the file that carried it.
    assert.equal(store.addSample(sha('x.webp'), image([0.25, 0.5], [2]), { label: 'dog' }, 'dog/x.webp'), 'relabeled');
    assert.equal(store.getSample(first)?.label, 'dog');
    assert.deepEqual(store.lastRelabelFrom('dog/x.webp')?.id, first);
    assert.equal(store.counts().total, 2);
  });
});

test('two copies under different labels in one group: the later record wins', () => {
  withStore((store) => {
    const id = sha('twice');
    const outcomes = store.commitIngest([
      { kind: 'sample', id, source: 'a/x.png', fileKey: 'k1', sample: image([1]), target: { label: 'a' }, sidecars: [] },
      { kind: 'sample', id, source: 'b/x.png', fileKey: 'k2', sample: image([1]), target: { label: 'b' }, sidecars: [] },
    ]);
    assert.deepEqual(outcomes, ['accepted', 'relabeled']);
    assert.equal(store.getSample(id)?.label, 'b');
    assert.equal(store.findIngest('b/x.png', 'k2')?.outcome, 'relabeled');
  });
});

test('shape mismatches and bad ids are refused and nothing is written', () => {
  withStore((store) => {
    assert.throws(() => store.addSample(sha('x'), image([1, 2, 3], [2, 2]), { label: 'a' }, 'a/x'), { code: 'BONSAI_STORE_BAD_SHAPE' });
    assert.throws(() => store.addSample('ABC', image([1]), { label: 'a' }, 'a/x'), { code: 'BONSAI_STORE_BAD_ID' });
    assert.equal(store.counts().total, 0);
    assert.deepEqual(store.labels(), []);
  });
});

test('labels get class indices in first-seen order, stable across restarts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-store-'));
  const path = join(dir, 'store.db');
  try {
    let store = openStore(path);
    store.addSample(sha('1'), image([1]), { label: 'seven' }, 'seven/1');
    store.addSample(sha('2'), image([2]), { label: 'three' }, 'three/2');
    store.addSample(sha('3'), image([3]), { label: 'seven' }, 'seven/3');
    store.addSample(sha('t'), { modality: 'audio', features: Float32Array.from([1, 2]), shape: [1, 2] }, { transcript: 'hello' }, 't.wav');
    store.close();
    store = openStore(path);
    store.addSample(sha('4'), image([4]), { label: 'alpha' }, 'alpha/4');
    assert.deepEqual(store.labels().map((l) => [l.label, l.classIndex]), [['seven', 0], ['three', 1], ['alpha', 2]]);
    const [batch] = collect(store.batches({}, 10));
    assert.deepEqual(Array.from(batch.labels), [0, 1, 0, -1, 2]);
    assert.deepEqual(batch.transcripts, [null, null, null, 'hello', null]);
    assert.deepEqual(store.counts().byLabel, { seven: 2, three: 1, alpha: 1 });
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batches stream at most N samples with concatenated features, filtered by pending, split and modality', () => {
  withStore((store) => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = sha(`s${i}`);
      ids.push(id);
      store.addSample(id, image([i, i + 0.5], [2, 1]), { label: `c${i % 2}` }, `c${i % 2}/${i}.png`);
    }
    store.addSample(sha('audio'), { modality: 'audio', features: Float32Array.from([9, 9, 9]), shape: [1, 3] }, { label: 'c0' }, 'c0/a.wav');

    const all = collect(store.batches({ modality: 'image' }, 3));
    assert.deepEqual(all.map((b) => b.ids.length), [3, 3, 1]);
    assert.deepEqual(all.flatMap((b) => b.ids), ids);
    assert.deepEqual(Array.from(all[1].features), [3, 3.5, 4, 4.5, 5, 5.5]);
    assert.deepEqual(all[1].shape, [2, 1]);
    assert.deepEqual(all[1].seqs, [4, 5, 6]);

    const trainIds = ids.filter((id) => splitOf(id) === 'train');
    assert.deepEqual(collect(store.batches({ modality: 'image', split: 'train' }, 100)).flatMap((b) => b.ids), trainIds);
    assert.equal(store.count({ split: ['validation', 'test'] }), 8 - trainIds.length - (splitOf(sha('audio')) === 'train' ? 1 : 0));

    const byHash = collect(store.batches({ order: 'hash' }, 100)).flatMap((b) => b.ids);
    assert.deepEqual(byHash, [...ids, sha('audio')].sort());

    // Mark the first four as trained by model 1, then everything up to seq 6 by model 2.
    assert.equal(store.markTrained(ids.slice(0, 4), 1), 4);
    assert.equal(store.markTrained({ upToSeq: 6 }, 2), 2);
    assert.equal(store.markTrained(ids.slice(0, 1), 3), 0, 'the first version that trained on a sample is kept');
    assert.equal(store.getSample(ids[0])?.trainedVersion, 1);
    assert.equal(store.getSample(ids[5])?.trainedVersion, 2);
    const pending = collect(store.batches({ pending: true }, 100)).flatMap((b) => b.ids);
    assert.deepEqual(pending, [ids[6], sha('audio')]);
    const counts = store.counts();
    assert.equal(counts.total, 8);
    assert.equal(counts.pending, 2);
    assert.equal(counts.lastSeq, 8);
    assert.deepEqual(counts.byModality, { image: 7, audio: 1 });
    assert.equal(counts.bySplit.train + counts.bySplit.validation + counts.bySplit.test, 8);
    assert.equal(counts.pendingBySplit[splitOf(ids[6])] >= 1, true);
    assert.throws(() => store.markTrained([ids[6]], -1), { code: 'BONSAI_STORE_BAD_VERSION' });
    assert.throws(() => store.batches({}, 0).next(), { code: 'BONSAI_STORE_BAD_BATCH_SIZE' });
  });
});

test('oldestPendingAt is the arrival time of the first sample still pending, null when none is', () => {
  withStore((store) => {
    assert.equal(store.oldestPendingAt(), null);
    const ids = [1, 2, 3].map((i) => sha(`pending ${i}`));
    ids.forEach((id, i) => store.commitIngest([{ kind: 'sample', id, source: `a/${i}.png`, fileKey: `k${i}`, sample: image([i]), target: { label: 'a' }, sidecars: [] }], { now: 1_000 * (i + 1) }));
    assert.equal(store.oldestPendingAt(), 1_000);
    store.markTrained(ids.slice(0, 2), 1);
    assert.equal(store.oldestPendingAt(), 3_000);
    store.markTrained(ids, 2);
    assert.equal(store.oldestPendingAt(), null);
    assert.equal(store.isOpen, true);
  });
});

test('batches of differently shaped samples have a null common shape and per-sample shapes', () => {
  withStore((store) => {
    store.addSample(sha('a1'), { modality: 'audio', features: Float32Array.from([1, 2, 3, 4]), shape: [2, 2] }, { label: 'x' }, 'x/a1.wav');
    store.addSample(sha('a2'), { modality: 'audio', features: Float32Array.from([5, 6]), shape: [1, 2] }, { label: 'x' }, 'x/a2.wav');
    const [batch] = collect(store.batches({ modality: 'audio' }, 10));
    assert.equal(batch.shape, null);
    assert.deepEqual(batch.shapes, [[2, 2], [1, 2]]);
    assert.deepEqual(Array.from(batch.features), [1, 2, 3, 4, 5, 6]);
  });
});

test('a group commit stores one sample and one duplicate for two copies, and logs every file', () => {
  withStore((store) => {
    const id = sha('same');
    const outcomes = store.commitIngest([
      { kind: 'sample', id, source: 'a/1.png', fileKey: 'k1', sample: image([1]), target: { label: 'a' }, sidecars: [] },
      { kind: 'sample', id, source: 'a/2.png', fileKey: 'k2', sample: image([1]), target: { label: 'a' }, sidecars: ['a/2.png.done'] },
      { kind: 'rejected', id: sha('bad'), source: 'a/3.png', fileKey: 'k3', code: 'BONSAI_INGEST_PROCESS_FAILED', sidecars: [] },
    ]);
    assert.deepEqual(outcomes, ['accepted', 'duplicate', 'rejected']);
    assert.equal(store.findIngest('a/2.png', 'k2')?.outcome, 'duplicate');
    assert.deepEqual(store.findIngest('a/2.png', 'k2')?.sidecars, ['a/2.png.done']);
    assert.equal(store.findIngest('a/3.png', 'k3')?.code, 'BONSAI_INGEST_PROCESS_FAILED');
    assert.equal(store.findIngest('a/1.png', 'other'), undefined);
  });
});

test('a failure inside a group commit rolls the whole group back', () => {
  withStore((store) => {
    assert.throws(() => store.commitIngest([
      { kind: 'sample', id: sha('ok'), source: 'a/ok', fileKey: 'k1', sample: image([1]), target: { label: 'a' }, sidecars: [] },
    ], { beforeCommit: () => { throw new Error('power cut'); } }), /power cut/);
    assert.equal(store.hasSample(sha('ok')), false);
    assert.equal(store.findIngest('a/ok', 'k1'), undefined);
    assert.deepEqual(store.labels(), []);
  });
});

test('a read-only store reads what the writer committed and refuses writes', () => {
  withStore((store, path) => {
    store.addSample(sha('r'), image([7]), { label: 'r' }, 'r/1');
    const reader = openStore(path, { readonly: true });
    try {
      assert.equal(reader.hasSample(sha('r')), true);
      assert.throws(() => reader.addSample(sha('q'), image([1]), { label: 'r' }, 'r/2'), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_STORE_READ_ONLY');
      assert.throws(() => reader.markTrained({ upToSeq: 1 }, 1), { code: 'BONSAI_STORE_READ_ONLY' });
      store.addSample(sha('s'), image([8]), { label: 'r' }, 'r/3');
      assert.equal(reader.counts().total, 2);
    } finally {
      reader.close();
    }
  });
});

test('the store runs in WAL mode with full fsync on commit', () => {
  withStore((store) => {
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('synchronous', { simple: true }), 2); // FULL
    assert.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
  });
});
