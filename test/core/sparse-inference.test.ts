import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { createModel } from '../../core/models/index.ts';
import type { MaskedModel } from '../../core/models/model.ts';
import { CSR_BATCHED_FROM, csrFromMasked, csrMatMul } from '../../core/sparse/csr.ts';
import { compileSparseInference } from '../../core/sparse/sparse-inference.ts';
import { SparseChain, sparseLayerFromMasked } from '../../core/sparse/sparse-chain.ts';
import { noLeaks } from '../helpers/tensors.ts';

// The default backend: the plan's dense layers and the reference run where serving runs.
await initBackend();

/** Asserts |a - b| <= tol * max(1, max |b|) elementwise: relative to the logits' scale. */
function closeRelative(a: Float32Array, b: Float32Array, tol: number): void {
  assert.equal(a.length, b.length);
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * scale, `index ${i}: ${a[i]} vs ${b[i]} (scale ${scale})`);
}

function argmaxRows(z: Float32Array, n: number): number[] {
  const k = z.length / n;
  return Array.from({ length: n }, (_, b) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (z[b * k + j] > z[b * k + best]) best = j;
    return best;
  });
}

/** Random masks of `density` on every kernel, seeded. */
function sparsify(model: MaskedModel, density: number, seed: number): void {
  model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', seed + i).less(density).toFloat())));
}

/** Inputs like images: values in [0, 1] with about half of them exactly 0. */
function inputs(n: number, size: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n * size }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = s / 2147483648;
    return u < 0.5 ? 0 : u;
  });
}

function reference(model: MaskedModel, x: Float32Array, n: number): Float32Array {
  const y = tf.tidy(() => model.forward(tf.tensor(x, [n, ...model.spec.inputShape]), { training: false }));
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return Float32Array.from(out);
}

test('csrMatMul equals the dense product of W*M, sample by sample and batched', () => {
  const rows = 13;
  const cols = 7;
  const w = inputs(1, rows * cols, 3).map((v, i) => (i % 3 === 0 ? -v : v));
  const m = inputs(1, rows * cols, 5).map((v) => (v === 0 ? 0 : 1));
  const bias = Float32Array.from({ length: cols }, (_, j) => j - 3);
  const csr = csrFromMasked(w, m, rows, cols);
  for (const n of [1, 2, CSR_BATCHED_FROM, 9]) {
    const x = inputs(n, rows, 11 + n).map((v, i) => (i % 4 === 0 ? -v : v));
    const want = new Float32Array(n * cols);
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < cols; j++) {
        let s = bias[j];
        for (let i = 0; i < rows; i++) s += x[b * rows + i] * w[i * cols + j] * m[i * cols + j];
        want[b * cols + j] = s;
      }
    }
    closeRelative(csrMatMul(x, n, csr, bias), want, 1e-6);
  }
  assert.throws(() => csrMatMul(new Float32Array(5), 1, csr, null), { code: 'BONSAI_CORE_SPARSE_SHAPE' });
});

/** leaky(x (W*M) + b) for n samples, in float64, as written in the paper (eq. 4). */
function denseLayer(x: Float32Array, n: number, w: Float32Array, m: Float32Array, bias: Float32Array, rows: number, cols: number, slope: number): Float32Array {
  const y = new Float32Array(n * cols);
  for (let b = 0; b < n; b++) {
    for (let j = 0; j < cols; j++) {
      let s = bias[j];
      for (let i = 0; i < rows; i++) s += x[b * rows + i] * w[i * cols + j] * m[i * cols + j];
      y[b * cols + j] = s < 0 ? s * slope : s;
    }
  }
  return y;
}

for (const widths of [[13, 7, 5, 3], [16, 8, 12, 4]]) test(`the WebAssembly sparse chain equals the masked dense layers: widths ${widths.join('-')}, odd batches, empty inputs, outputs and layers`, () => {
  const layers = widths.slice(1).map((cols, l) => {
    const rows = widths[l];
    const w = inputs(1, rows * cols, 3 + l).map((v, i) => (i % 3 === 0 ? -v : v));
    const m = inputs(1, rows * cols, 5 + l).map((v) => (v === 0 ? 0 : 1));
    if (l === 0) {
      for (let i = 0; i < rows; i++) m[i * cols + 2] = 0; // output 2 has no live input: its bias
      m.fill(0, 4 * cols, 5 * cols); // input 4 feeds nothing
    }
    if (l === 1) m.fill(0); // a layer with no live connection at all
    const bias = Float32Array.from({ length: cols }, (_, j) => (j - 2) / 4);
    return { w, m, bias, rows, cols };
  });
  for (const activateLast of [false, true]) {
    const chain = new SparseChain(layers.map((l) => sparseLayerFromMasked(l.w, l.m, l.bias, l.rows, l.cols)), activateLast);
    for (const n of [1, 2, 3, 4, 5, 15, 16, 17, 21, 64, 67]) {
      const x = inputs(n, widths[0], 11 + n).map((v, i) => (i % 4 === 0 ? -v : v));
      let want: Float32Array = x;
      layers.forEach((l, i) => {
        want = denseLayer(want, n, l.w, l.m, l.bias, l.rows, l.cols, i < layers.length - 1 || activateLast ? 0.01 : 1);
      });
      closeRelative(chain.run(x, n), want, 1e-6);
    }
    assert.throws(() => chain.run(new Float32Array(5), 1), { code: 'BONSAI_CORE_SPARSE_SHAPE' });
  }
  const [rows, cols] = [widths[0], widths[1]];
  assert.throws(() => new SparseChain([sparseLayerFromMasked(layers[0].w, layers[0].m, layers[0].bias, rows, cols), sparseLayerFromMasked(layers[0].w, layers[0].m, layers[0].bias, rows, cols)], false),
    { code: 'BONSAI_CORE_SPARSE_SHAPE' });
});

test('the sparse chain grows its memory for a larger batch and gives the same rows for the same samples', () => {
  const [rows, cols] = [784, 300];
  const w = inputs(1, rows * cols, 21).map((v) => v - 0.5);
  const m = inputs(1, rows * cols, 22).map((v) => (v > 0.9 ? 1 : 0));
  const chain = new SparseChain([sparseLayerFromMasked(w, m, new Float32Array(cols), rows, cols)], false);
  const x = inputs(1030, rows, 23);
  const big = chain.run(x, 1030);
  const one = chain.run(x.subarray(1029 * rows), 1);
  closeRelative(one, big.subarray(1029 * cols), 1e-6);
});

/** Sets non-zero biases, so that they are checked too. */
function randomBiases(model: MaskedModel): void {
  for (const p of model.params.filter((q) => q.kind === 'bias')) p.setValue(tf.randomNormal(p.shape, 0, 0.1, 'float32', 9));
}

/** Compares the plan's logits with the masked dense forward pass at several batch sizes. */
function assertSameAsForward(model: MaskedModel, plan: NonNullable<ReturnType<typeof compileSparseInference>>, seed: number): void {
  const size = model.spec.inputShape.reduce((a, b) => a * b, 1);
  for (const n of [1, 3, 32, 33]) {
    const x = inputs(n, size, seed + n);
    const want = reference(model, x, n);
    const got = plan.logits(x, n);
    closeRelative(got, want, 1e-4);
    assert.deepEqual(argmaxRows(got, n), argmaxRows(want, n));
  }
}

for (const density of [0.02, 0.1, 0.3]) {
  test(`LeNet-300-100 with random masks at density ${density}: sparse logits equal forward(x, { training: false }) within 1e-4, same argmax`, async () => {
    await noLeaks(() => {
      const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 4 });
      sparsify(model, density, 100 + density * 1000);
      randomBiases(model);
      const plan = compileSparseInference(model, { maxDensity: 0.5 });
      assert.ok(plan !== null);
      assert.deepEqual(plan.layers.map((l) => l.kind), ['sparse', 'sparse', 'sparse']);
      assertSameAsForward(model, plan, Math.round(density * 100));
      plan.dispose();
      model.dispose();
    });
  });
}

test('a layer above the density threshold runs dense on tfjs inside the same chain', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
    [0.1, 0.8, 0.05].forEach((d, i) => {
      const k = model.kernels[i];
      k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 20 + i).less(d).toFloat()));
    });
    randomBiases(model);
    const plan = compileSparseInference(model, { maxDensity: 0.3 });
    assert.ok(plan !== null);
    assert.deepEqual(plan.layers.map((l) => l.kind), ['sparse', 'dense', 'sparse']);
    assertSameAsForward(model, plan, 40);
    plan.dispose();
    model.dispose();
  });
});

test('a dense model gets a plan of dense steps; a model without a dense chain gets none', async () => {
  await noLeaks(() => {
    const dense = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 6 });
    randomBiases(dense);
    const plan = compileSparseInference(dense, { maxDensity: 0.5 });
    assert.ok(plan !== null);
    assert.deepEqual(plan.layers.map((l) => l.kind), ['dense', 'dense', 'dense']);
    assertSameAsForward(dense, plan, 50);
    plan.dispose();
    dense.dispose();
    const resnet = createModel({ arch: 'resnet18', inputShape: [8, 8, 1], numClasses: 3, seed: 6 });
    assert.equal(compileSparseInference(resnet), null);
    resnet.dispose();
  });
});

test('LeNet-5: the convolutions stay on tfjs, the sparse fully connected layers run on the sparse kernel, logits equal forward', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'lenet5', inputShape: [28, 28, 1], numClasses: 10, seed: 7 });
    sparsify(model, 0.1, 60);
    randomBiases(model);
    const plan = compileSparseInference(model, { maxDensity: 0.3 });
    assert.ok(plan !== null);
    assert.deepEqual(plan.layers.map((l) => l.name), ['fc1', 'fc2', 'fc3']);
    assert.deepEqual(plan.layers.map((l) => l.kind), ['sparse', 'sparse', 'sparse']);
    assertSameAsForward(model, plan, 70);
    plan.dispose();
    model.dispose();
  });
});

test('probabilities are the softmax of the logits; a disposed plan refuses to run', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'lenet300', inputShape: [4, 4, 1], numClasses: 3, options: { hidden: '6,5' }, seed: 8 });
    sparsify(model, 0.2, 1);
    const plan = compileSparseInference(model, { maxDensity: 0.5 });
    assert.ok(plan !== null);
    const x = inputs(2, 16, 2);
    const want = tf.tidy(() => model.predict(tf.tensor(x, [2, 4, 4, 1])).dataSync());
    closeRelative(plan.probabilities(x, 2), Float32Array.from(want), 1e-5);
    assert.throws(() => plan.logits(new Float32Array(3), 1), { code: 'BONSAI_CORE_SPARSE_SHAPE' });
    plan.dispose();
    plan.dispose();
    assert.throws(() => plan.logits(x, 2), { code: 'BONSAI_CORE_SPARSE_DISPOSED' });
    model.dispose();
  });
});

test('a weight snapshot serves the same probabilities as W*M formed every call, crops each filter once and frees everything', async () => {
  await noLeaks(async () => {
    // 32x32 images through the 7x7/2 stem and the pool: the last stage runs on 1x1 maps (cropped filters).
    const model = createModel({ arch: 'resnet18', inputShape: [32, 32, 3], numClasses: 10, seed: 3, options: { width: 4 } });
    sparsify(model, 0.5, 80);
    const x = tf.randomUniform([3, 32, 32, 3], 0, 1, 'float32', 81);
    const snapshot = model.snapshotWeights();
    assert.equal(snapshot.size, model.params.length);
    const fresh = model.predict(x);
    const first = model.predict(x, snapshot);
    const slices = (info: Awaited<ReturnType<typeof tf.profile>>) => info.kernels.filter((k) => k.name === 'Slice').length;
    const again = await tf.profile(() => model.predict(x));
    assert.ok(slices(again) > 0, 'without a snapshot every call crops its filters');
    tf.dispose(again.result as tf.Tensor);
    // The second call with the snapshot crops nothing: the filters cropped by the first are reused.
    const profiled = await tf.profile(() => model.predict(x, snapshot));
    assert.equal(slices(profiled), 0);
    const second = profiled.result as tf.Tensor;
    assert.deepEqual(Array.from(first.dataSync()), Array.from(fresh.dataSync()));
    assert.deepEqual(Array.from(second.dataSync()), Array.from(fresh.dataSync()));
    tf.dispose([x, fresh, first, second]);
    snapshot.dispose();
    snapshot.dispose();
    model.dispose();
  });
});

test('a plan given the caller\'s weight snapshot runs its convolutions on it and leaves freeing it to the caller', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'lenet5', inputShape: [28, 28, 1], numClasses: 10, seed: 8 });
    sparsify(model, 0.1, 90);
    const snapshot = model.snapshotWeights();
    const shared = compileSparseInference(model, { maxDensity: 0.3, weights: snapshot });
    const own = compileSparseInference(model, { maxDensity: 0.3 });
    assert.ok(shared !== null && own !== null);
    const x = inputs(4, 784, 91);
    assert.deepEqual(Array.from(shared.logits(x, 4)), Array.from(own.logits(x, 4)));
    const before = tf.memory().numTensors;
    shared.dispose();
    // The plan's own dense tensors go (none here: every layer is sparse), the caller's snapshot stays.
    assert.equal(tf.memory().numTensors, before);
    assert.equal(snapshot.size, model.params.length);
    own.dispose();
    snapshot.dispose();
    model.dispose();
  });
});
