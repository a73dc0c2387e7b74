/** An update's data within its memory budget (daemon/trainer/selection.ts): the new data, a replay of the earlier, pinned evaluation subsets. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { readUpdateData } from '../../daemon/trainer/index.ts';
import { EVALUATION_SHARE, selectUpdateData } from '../../daemon/trainer/selection.ts';
import { readSpeechUpdateData } from '../../daemon/trainer/speech-data.ts';
import { tempStateDir } from './e2e-helpers.ts';

const id = (s: string): string => createHash('sha256').update(s).digest('hex');
/** Bytes of one sample of `fill` (16 float32 features). */
const BYTES = 64;

/** Stores `n` 16-feature samples, seeds from `first`; feature 0 is the seed. */
function fill(store: SampleStore, first: number, n: number): void {
  for (let seed = first; seed < first + n; seed++) {
    const features = new Float32Array(16).fill(0.5);
    features[0] = seed;
    store.addSample(id(`s${seed}`), { modality: 'image', features, shape: [16] }, { label: seed % 2 ? 'odd' : 'even' }, `x/s${seed}.png`);
  }
}

function withStore(fn: (store: SampleStore) => void): void {
  const dir = tempStateDir('bonsai-selection-');
  const store = openStore(join(dir, 'store.db'));
  try {
    fn(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function splitSeqs(store: SampleStore, split: string, where = ''): number[] {
  return store.db.prepare<[string], number>(`SELECT seq FROM samples WHERE split = ? ${where} ORDER BY seq`).pluck().all(split);
}

test('within the budget, or with none, an update reads everything', () => {
  withStore((store) => {
    fill(store, 0, 200);
    const upTo = store.lastSeq();
    assert.equal(selectUpdateData(store, upTo, null), null);
    assert.equal(selectUpdateData(store, upTo, 200 * BYTES * 8), null);
    const data = readUpdateData(store, upTo, [16], 200 * BYTES * 8);
    assert.equal(data.selection, null);
    assert.equal(data.allData.n + data.validation.n + data.test.n, 200);
  });
});

test('beyond it: every new sample, a seeded random replay of the earlier ones, within the budget; over updates every sample comes back', () => {
  withStore((store) => {
    fill(store, 0, 2000);
    store.markTrained({ upToSeq: store.lastSeq() }, 1);
    fill(store, 2000, 100);
    const upTo = store.lastSeq();
    const train = splitSeqs(store, 'train');
    const pending = splitSeqs(store, 'train', 'AND trained_version IS NULL');
    const budget = 500 * BYTES;
    const sel = selectUpdateData(store, upTo, budget);
    assert.ok(sel?.seqs.train);
    const kept = sel.seqs.train;
    assert.equal(kept.size, 500, 'the budget filled');
    assert.deepEqual(sel.train, { kept: 500, of: train.length, bytes: 500 * BYTES });
    for (const s of pending) assert.ok(kept.has(s), `new sample ${s} kept`);
    for (const s of kept) assert.ok(train.includes(s), 'only training samples');
    // The same snapshot draws the same replay; another one another.
    assert.deepEqual([...selectUpdateData(store, upTo, budget)!.seqs.train!].sort(), [...kept].sort());
    const other = selectUpdateData(store, upTo - 1, budget)!.seqs.train!;
    const overlap = [...other].filter((s) => kept.has(s)).length;
    assert.ok(overlap < 0.5 * kept.size, `another snapshot, another replay (overlap ${overlap})`);
    // Uniform over the earlier samples: each is replayed with p = (500 - new) / earlier; over 40 updates none is left out
    // (expected misses 1,600 * (1 - 0.25)^40 = 0.02).
    const earlier = train.filter((s) => !pending.includes(s));
    const seen = new Set<number>();
    for (let u = 0; u < 40; u++) for (const s of selectUpdateData(store, upTo + u, budget)!.seqs.train!) seen.add(s);
    assert.equal(earlier.filter((s) => !seen.has(s)).length, 0);

    // The datasets read are the selection: the new data whole, all data the kept samples with their features.
    const data = readUpdateData(store, upTo, [16], budget);
    assert.equal(data.newData.n, pending.length);
    assert.equal(data.allData.n, 500);
    const seeds = new Set(Array.from({ length: data.allData.n }, (_, i) => data.allData.x[i * 16]));
    const seqOfSeed = (seed: number): number => store.getSample(id(`s${seed}`))!.seq;
    for (const seed of seeds) assert.ok(kept.has(seqOfSeed(seed)), `seed ${seed} was selected`);
  });
});

test('new data beyond the budget are themselves sampled; validation and test are the first samples by content hash, within an eighth each', () => {
  withStore((store) => {
    fill(store, 0, 3000);
    const upTo = store.lastSeq();
    const budget = 800 * BYTES;
    const sel = selectUpdateData(store, upTo, budget)!;
    assert.equal(sel.seqs.train?.size, 800);
    const evalCap = Math.floor((budget * EVALUATION_SHARE) / BYTES);
    for (const split of ['validation', 'test'] as const) {
      const byHash = store.db.prepare<[string], number>('SELECT seq FROM samples WHERE split = ? ORDER BY id').pluck().all(split);
      assert.ok(byHash.length > evalCap, `${split}: more than the cap stored`);
      assert.deepEqual([...sel.seqs[split]!].sort((a, b) => a - b), byHash.slice(0, evalCap).sort((a, b) => a - b), `${split}: the first ${evalCap} by hash`);
      assert.deepEqual(sel[split], { kept: evalCap, of: byHash.length, bytes: evalCap * BYTES });
    }
    // Pinned: more arrivals change the validation subset little (only by samples hashing before its last).
    const before = sel.seqs.validation!;
    fill(store, 3000, 300);
    const after = selectUpdateData(store, store.lastSeq(), budget)!.seqs.validation!;
    const stayed = [...before].filter((s) => after.has(s)).length;
    assert.ok(stayed >= 0.8 * before.size, `${stayed} of ${before.size} validation samples stayed`);

    const data = readUpdateData(store, upTo, [16], budget);
    assert.deepEqual([data.allData.n, data.newData.n, data.validation.n, data.test.n], [800, 800, evalCap, evalCap]);
  });
});

test('speech reads within the same selection', () => {
  withStore((store) => {
    for (let i = 0; i < 400; i++) {
      const frames = 20 + (i % 5);
      store.addSample(id(`u${i}`), { modality: 'audio', features: new Float32Array(frames * 4).fill(i), shape: [frames, 4] }, { label: i % 2 ? 'yes' : 'no' }, `w/u${i}.wav`);
    }
    const budget = 100 * 22 * 4 * 4;
    const data = readSpeechUpdateData(store, store.lastSeq(), 4, 1, budget);
    assert.ok(data.selection?.seqs.train);
    assert.equal(data.allData.n, data.selection.train.kept);
    assert.ok(data.selection.train.bytes <= budget && data.selection.train.kept >= 80, JSON.stringify(data.selection.train));
    assert.ok(data.validation.n <= data.selection.validation.kept);
  });
});
