import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { noLeaks } from '../helpers/tensors.ts';
import { BonsaiError } from '../../core/errors.ts';
import {
  concat, countBatches, makeDataset, orderedBatches, permutation, reshapeSamples, seededRandom, shuffledBatches, slice, subset, type Dataset,
} from '../../core/data/dataset.ts';

await tf.setBackend('cpu');

/** n samples of shape [2, 3]; sample i holds the values 10*i + 0..5, label i % 4. */
function toy(n: number, offset = 0): Dataset {
  const x = new Float32Array(n * 6);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 6; k++) x[i * 6 + k] = 10 * (i + offset) + k;
    y[i] = (i + offset) % 4;
  }
  return makeDataset(x, y, [2, 3]);
}

function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof BonsaiError && e.code === code;
}

test('makeDataset checks sizes against the shape', () => {
  assert.equal(toy(5).n, 5);
  assert.throws(() => makeDataset(new Float32Array(11), new Int32Array(2), [2, 3]), (e: unknown) => isCode('BONSAI_DATA_DATASET_SHAPE')(e) && (e as BonsaiError).details.expected === 12);
  assert.throws(() => makeDataset(new Float32Array(0), new Int32Array(0), [0]), isCode('BONSAI_DATA_DATASET_SHAPE'));
});

test('subset picks samples in the given order and copies them', () => {
  const ds = toy(5);
  const s = subset(ds, [3, 0, 3]);
  assert.equal(s.n, 3);
  assert.deepEqual(Array.from(s.y), [3, 0, 3]);
  assert.deepEqual(Array.from(s.x.subarray(0, 6)), [30, 31, 32, 33, 34, 35]);
  assert.deepEqual(Array.from(s.x.subarray(6, 12)), [0, 1, 2, 3, 4, 5]);
  s.x[0] = -1;
  assert.equal(ds.x[30 / 10 * 6], 30, 'subset must not alias the source');
  assert.throws(() => subset(ds, [5]), isCode('BONSAI_DATA_INDEX_OUT_OF_RANGE'));
});

test('concat appends in order; slice and reshapeSamples are views', () => {
  const c = concat(toy(2), toy(3, 2));
  assert.equal(c.n, 5);
  assert.deepEqual(Array.from(c.y), [0, 1, 2, 3, 0]);
  assert.deepEqual(Array.from(c.x), Array.from(toy(5).x));
  assert.throws(() => concat(toy(1), reshapeSamples(toy(1), [6])), isCode('BONSAI_DATA_DATASET_SHAPE'));
  const v = slice(c, 1, 3);
  assert.deepEqual(Array.from(v.y), [1, 2]);
  assert.equal(v.x[0], 10);
  assert.equal(v.x.buffer, c.x.buffer);
  assert.deepEqual(reshapeSamples(c, [6]).shape, [6]);
  assert.throws(() => reshapeSamples(c, [5]), isCode('BONSAI_DATA_DATASET_SHAPE'));
});

test('countBatches counts a partial last batch unless dropped', () => {
  assert.equal(countBatches(10, 3), 4);
  assert.equal(countBatches(10, 3, { dropRemainder: true }), 3);
  assert.equal(countBatches(toy(9), 3), 3);
  assert.equal(countBatches(0, 3), 0);
  assert.throws(() => countBatches(10, 0), isCode('BONSAI_DATA_BAD_ARGUMENT'));
});

test('seededRandom is deterministic, in [0, 1), and seed-dependent', () => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const c = seededRandom(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepEqual(Array.from({ length: 1000 }, () => b()), xs);
  assert.notDeepEqual(Array.from({ length: 1000 }, () => c()), xs);
  assert.ok(xs.every((v) => v >= 0 && v < 1));
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

test('permutation contains every index once', () => {
  const p = permutation(1000, seededRandom(1));
  assert.deepEqual(Array.from(p).sort((u, v) => u - v), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(Array.from(p), Array.from({ length: 1000 }, (_, i) => i));
});

test('shuffledBatches covers every sample once, with matching x and y, deterministically', async () => {
  await noLeaks(async () => {
    const ds = toy(10);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const batch of shuffledBatches(ds, 4, 7)) {
      assert.deepEqual(batch.x.shape, [batch.size, 2, 3]);
      assert.equal(batch.y.dtype, 'int32');
      const x = await batch.x.data();
      const y = await batch.y.data();
      for (let i = 0; i < batch.size; i++) {
        const id = x[i * 6] / 10;
        assert.equal(x[i * 6 + 5], 10 * id + 5);
        assert.equal(y[i], id % 4, 'label travels with its sample');
        seen.push(id);
      }
      sizes.push(batch.size);
      batch.x.dispose();
      batch.y.dispose();
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again: number[] = [];
    for (const batch of shuffledBatches(ds, 4, 7)) {
      again.push(...Array.from(await batch.x.data()).filter((_, k) => k % 6 === 0).map((v) => v / 10));
      tf.dispose([batch.x, batch.y]);
    }
    assert.deepEqual(again, seen);
  });
});

test('batches are independent of each other and of the dataset arrays', async () => {
  await noLeaks(async () => {
    const ds = toy(4);
    const batches = [...orderedBatches(ds, 2, { dropRemainder: true })];
    ds.x.fill(-1);
    assert.deepEqual(Array.from(await batches[0].x.data()).slice(0, 2), [0, 1]);
    assert.deepEqual(Array.from(await batches[1].y.data()), [2, 3]);
    tf.dispose(batches.flatMap((b) => [b.x, b.y]));
  });
});

test('stopping early leaves no tensor behind', async () => {
  await noLeaks(() => {
    for (const batch of shuffledBatches(toy(100), 8, 3)) {
      tf.dispose([batch.x, batch.y]);
      break;
    }
  });
});
