import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { encodeIdx } from '../../pipelines/datasets/idx.ts';
import { filterClasses, classIncrementalStages, loadMnist, mnistSplits, MNIST_SHAPE } from '../../pipelines/datasets/mnist.ts';

/** Class counts of the official files (LeCun, Cortes, Burges), digits 0-9. */
const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function histogram(labels: ArrayLike<number>): number[] {
  const h = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof BonsaiError && e.code === code;
}

test('loads 60000 training and 10000 test images with the official label counts, in a few seconds', () => {
  const t0 = performance.now();
  const mnist = loadMnist();
  const ms = performance.now() - t0;
  console.log(`loadMnist (parse + convert all 70000 images): ${ms.toFixed(0)} ms`);
  assert.ok(ms < 5000, `loading took ${ms} ms`);
  assert.equal(mnist.train.n, 60000);
  assert.equal(mnist.test.n, 10000);
  assert.equal(mnist.train.images.length, 60000 * 784);
  assert.equal(mnist.test.images.length, 10000 * 784);
  assert.deepEqual(histogram(mnist.train.labels), TRAIN_COUNTS);
  assert.deepEqual(histogram(mnist.test.labels), TEST_COUNTS);
  // first labels of the official files: train 5 0 4 1 9, test 7 2 1 0 4
  assert.deepEqual(Array.from(mnist.train.labels.subarray(0, 5)), [5, 0, 4, 1, 9]);
  assert.deepEqual(Array.from(mnist.test.labels.subarray(0, 5)), [7, 2, 1, 0, 4]);
  let min = Infinity;
  let max = -Infinity;
  for (const v of mnist.test.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // a digit: dark background at the corners, ink in the middle rows
  const first = mnist.train.images.subarray(0, 784);
  assert.equal(first[0], 0);
  assert.ok(first.reduce((s, v) => s + v, 0) > 50);
  const t1 = performance.now();
  const again = loadMnist({ trainLimit: 100, testLimit: 10 });
  console.log(`loadMnist again (cached): ${(performance.now() - t1).toFixed(1)} ms`);
  assert.equal(again.train.n, 100);
  assert.equal(again.test.labels.length, 10);
  assert.deepEqual(Array.from(again.train.images.subarray(0, 784)), Array.from(first));
});

test('mnistSplits: 5000 validation images and 10 parts of 5500, disjoint, covering the training set', () => {
  const t0 = performance.now();
  const s = mnistSplits({ seed: 1 });
  console.log(`mnistSplits (full, cached files): ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(s.validation.n, 5000);
  assert.deepEqual(s.parts.map((p) => p.n), new Array(10).fill(5500));
  assert.equal(s.test.n, 10000);
  assert.deepEqual(s.validation.shape, [...MNIST_SHAPE]);
  const all = [...s.validationIndices, ...s.partIndices.flatMap((p) => [...p])];
  assert.equal(all.length, 60000);
  assert.equal(new Set(all).size, 60000, 'validation and parts are disjoint');
  // every sample is the image and label at its index in the official set
  const mnist = loadMnist();
  for (const [ds, idx] of [[s.validation, s.validationIndices], [s.parts[3], s.partIndices[3]], [s.parts[9], s.partIndices[9]]] as const) {
    for (const i of [0, 17, ds.n - 1]) {
      const j = idx[i];
      assert.equal(ds.y[i], mnist.train.labels[j]);
      assert.deepEqual(ds.x.subarray(i * 784, (i + 1) * 784), mnist.train.images.subarray(j * 784, (j + 1) * 784));
    }
  }
  // random, not the file order; every part holds every digit in roughly the overall proportion
  assert.notDeepEqual(Array.from(s.validationIndices.subarray(0, 10)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const p of s.parts) {
    const h = histogram(p.y);
    h.forEach((c, d) => assert.ok(Math.abs(c / 5500 - TRAIN_COUNTS[d] / 60000) < 0.02, `digit ${d}: ${c} of 5500`));
  }
  const first3 = s.firstParts(3);
  assert.equal(first3.n, 16500);
  assert.deepEqual(first3.y.subarray(5500, 11000), s.parts[1].y);
  assert.equal(s.firstParts(0).n, 0);
  assert.throws(() => s.firstParts(11), isCode('BONSAI_DATA_INDEX_OUT_OF_RANGE'));
});

test('mnistSplits is deterministic for a seed and differs across seeds', () => {
  const a = mnistSplits({ seed: 7, limit: 3000, validation: 500, parts: 5, testLimit: 100 });
  const b = mnistSplits({ seed: 7, limit: 3000, validation: 500, parts: 5, testLimit: 100 });
  const c = mnistSplits({ seed: 8, limit: 3000, validation: 500, parts: 5, testLimit: 100 });
  assert.deepEqual(a.validationIndices, b.validationIndices);
  assert.deepEqual(a.partIndices, b.partIndices);
  assert.deepEqual(a.parts[2].x, b.parts[2].x);
  assert.notDeepEqual(a.validationIndices, c.validationIndices);
  assert.notDeepEqual(a.partIndices[0], c.partIndices[0]);
  assert.deepEqual(a.parts.map((p) => p.n), [500, 500, 500, 500, 500]);
  assert.equal(a.test.n, 100);
  assert.ok([...a.validationIndices, ...a.partIndices.flatMap((p) => [...p])].every((j) => j < 3000), 'limit draws from the first images only');
});

test('mnistSplits spreads a remainder over the first parts and rejects impossible splits', () => {
  const s = mnistSplits({ seed: 1, limit: 1003, validation: 100, parts: 10, testLimit: 0 });
  assert.deepEqual(s.parts.map((p) => p.n), [91, 91, 91, 90, 90, 90, 90, 90, 90, 90]);
  assert.throws(() => mnistSplits({ seed: 1, limit: 100, validation: 95, parts: 10 }), isCode('BONSAI_DATA_SPLIT_INVALID'));
  assert.throws(() => mnistSplits({ seed: 1, parts: 0 }), isCode('BONSAI_DATA_SPLIT_INVALID'));
  assert.throws(() => mnistSplits({ seed: 1, limit: -1 }), isCode('BONSAI_DATA_BAD_ARGUMENT'));
});

test('filterClasses and the Fig. 4 stages keep only the requested digits', () => {
  const { test: testSet } = mnistSplits({ seed: 1, limit: 200, validation: 10, parts: 1, testLimit: 2000 });
  const twelve = filterClasses(testSet, [1, 2]);
  const h = histogram(testSet.y);
  assert.equal(twelve.n, h[1] + h[2]);
  assert.ok([...twelve.y].every((v) => v === 1 || v === 2));
  // order and pixels kept: the first "1" of the test set comes first
  const firstOne = [...testSet.y].findIndex((v) => v === 1 || v === 2);
  assert.deepEqual(twelve.x.subarray(0, 784), testSet.x.subarray(firstOne * 784, (firstOne + 1) * 784));
  const stages = classIncrementalStages(testSet);
  assert.deepEqual(stages.map((s) => s.added), [[1, 2], [0], [6], [7]]);
  assert.deepEqual(stages.map((s) => s.classes), [[1, 2], [1, 2, 0], [1, 2, 0, 6], [1, 2, 0, 6, 7]]);
  assert.deepEqual(stages.map((s) => s.newData.n), [h[1] + h[2], h[0], h[6], h[7]]);
  assert.equal(stages[3].allData.n, h[0] + h[1] + h[2] + h[6] + h[7]);
});

test('reports missing files, mismatched counts and bad labels with codes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-mnist-'));
  try {
    assert.throws(() => loadMnist({ dir }), (e: unknown) => isCode('BONSAI_DATA_MNIST_NOT_FOUND')(e) && (e as Error).message.includes('train-images-idx3-ubyte'));
    const images = (n: number) => encodeIdx({ dtype: 'uint8', shape: [n, 28, 28], data: new Uint8Array(n * 784) });
    const labels = (values: number[]) => encodeIdx({ dtype: 'uint8', shape: [values.length], data: Uint8Array.from(values) });
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels([1, 2]));
    assert.throws(() => loadMnist({ dir }), (e: unknown) => isCode('BONSAI_DATA_MNIST_COUNT_MISMATCH')(e) && (e as BonsaiError).details.images === 3);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels([1, 2, 12]));
    assert.throws(() => loadMnist({ dir }), (e: unknown) => isCode('BONSAI_DATA_MNIST_BAD_LABEL')(e) && (e as BonsaiError).details.label === 12);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx({ dtype: 'uint8', shape: [3, 27, 28], data: new Uint8Array(3 * 27 * 28) }));
    assert.throws(() => loadMnist({ dir }), isCode('BONSAI_DATA_MNIST_BAD_SHAPE'));
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(3).subarray(0, 100));
    assert.throws(() => loadMnist({ dir }), isCode('BONSAI_DATA_IDX_TRUNCATED'));
    // a complete, tiny set loads
    const img = new Uint8Array(2 * 784);
    img[784 + 5] = 255;
    img[3] = 51;
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx({ dtype: 'uint8', shape: [2, 28, 28], data: img }));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels([4, 9]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(1));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels([0]));
    const tiny = loadMnist({ dir });
    assert.deepEqual(Array.from(tiny.train.labels), [4, 9]);
    assert.equal(tiny.train.images[784 + 5], 1);
    assert.equal(tiny.train.images[3], Math.fround(51 / 255));
    assert.equal(tiny.test.n, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
