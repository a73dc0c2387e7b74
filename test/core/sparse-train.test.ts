import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { createModel } from '../../core/models/index.ts';
import { makeDataset, shuffledBatches } from '../../core/data/dataset.ts';
import { backward, tapedBackward, type GradientScope } from '../../core/train/step.ts';
import { Trainer } from '../../core/train/trainer.ts';
import { classificationTask, type TaskBatch } from '../../core/train/task.ts';
import { SPARSE_TRAIN_MAX_DENSITY, releaseSparseStructures, sparseForwardT, sparseStructure } from '../../core/train/sparse-fc.ts';
import { MaskedDense } from '../../core/sparse/masked-dense.ts';
import type { MaskedModel } from '../../core/models/model.ts';
import { noLeaks } from '../helpers/tensors.ts';

// The hand-written backward pass trains kernels at low density on their live
// connections (core/train/sparse-fc.ts): its loss and gradients must be the taped
// pass's to float32 rounding (sums run in another order), with exact zeros at dead
// connections, and batches the kernels cannot take must run the dense products.

before(async () => {
  await initBackend();
  await tf.setBackend('wasm');
});

after(() => releaseSparseStructures());

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

/** Batches of `n` samples of 28x28 inputs in [0, 1) with ten classes. */
function batches(n: number, batchSize: number): TaskBatch[] {
  const data = makeDataset(values(n * 784, 11), Int32Array.from({ length: n }, (_, i) => (i * 7) % 10), [28, 28, 1]);
  return [...shuffledBatches(data, batchSize, 3)].map((b) => ({ x: b.x, size: b.size, target: b.y, dispose: () => tf.dispose([b.x, b.y]) }));
}

/** Kernel names the backward pass of `batch` ran. */
async function kernelsOf(model: MaskedModel, batch: TaskBatch, scope: GradientScope = 'live'): Promise<string[]> {
  const info = await tf.profile(() => {
    const r = backward(model, classificationTask(), batch, batch.x, scope);
    tf.dispose(r.grads);
  });
  return info.kernels.map((k) => k.name);
}

/** Compares `backward` with the taped pass: masked gradients within float32 rounding, dead connections exactly 0. */
function compare(model: MaskedModel, batch: TaskBatch, exact: boolean, scope: GradientScope = 'live'): void {
  const ours = backward(model, classificationTask(), batch, batch.x, scope);
  const taped = tapedBackward(model, classificationTask(), batch);
  if (exact) assert.equal(ours.loss, taped.loss);
  else assert.ok(Math.abs(ours.loss - taped.loss) <= 1e-5 * Math.abs(taped.loss), `loss ${ours.loss} vs ${taped.loss}`);
  model.params.forEach((p, i) => {
    const a = ours.grads[i].dataSync();
    // Kernels on the sparse path have gradients at live connections only.
    const sparse = scope === 'live' && !exact && p.kind === 'kernel' && sparseStructure(p) !== null;
    const reference = sparse ? taped.grads[i].mul(p.mask) : taped.grads[i].clone();
    const ref = reference.dataSync() as Float32Array;
    reference.dispose();
    const mask = p.mask.dataSync();
    const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let k = 0; k < a.length; k++) {
      if (mask[k] === 0 && sparse) assert.equal(a[k], 0, `${p.name}[${k}] is dead and must have no gradient`);
      const tolerance = exact ? 0 : 1e-5 * scale + 1e-5 * Math.abs(ref[k]);
      if (Math.abs(a[k] - ref[k]) > tolerance) assert.fail(`${p.name}[${k}], batch of ${batch.size}: ${a[k]} vs ${ref[k]}`);
    }
  });
  tf.dispose([...ours.grads, ...taped.grads]);
}

test('LeNet-300-100 at 10 % density trains on its live connections, with the taped gradients', async () => {
  await noLeaks(async () => {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 5, options: { hidden: '300,100', density: 0.1 } });
    const fc1 = model.params.find((p) => p.name === 'fc1/kernel');
    assert.ok(fc1 && sparseStructure(fc1) !== null, 'fc1 at 10 % takes the sparse products');
    // Batches of 64, 64 and 12 (all multiples of 4).
    const all = batches(140, 64);
    assert.deepEqual(all.map((b) => b.size), [64, 64, 12]);
    for (const b of all) {
      assert.ok((await kernelsOf(model, b)).includes('BonsaiSparseKernelGrad'));
      compare(model, b, false);
    }
    all.forEach((b) => b.dispose());
    model.dispose();
  });
});

test('a batch that is not a multiple of 4 runs the dense products, bit for bit the taped pass', async () => {
  await noLeaks(async () => {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 6, options: { hidden: '300,100', density: 0.1 } });
    const [b] = batches(10, 10);
    assert.ok(!(await kernelsOf(model, b)).some((k) => k.startsWith('BonsaiSparse')));
    compare(model, b, true);
    b.dispose();
    model.dispose();
  });
});

test('a new mask rebuilds the live structure; a kernel above the threshold stays dense', async () => {
  await noLeaks(async () => {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 7, options: { hidden: '300,100', density: 0.2 } });
    const fc1 = model.params.find((p) => p.name === 'fc1/kernel');
    assert.ok(fc1);
    const [b] = batches(32, 32);
    const sparseGrads = async () => (await kernelsOf(model, b)).filter((k) => k === 'BonsaiSparseKernelGrad').length;
    // All three kernels are at 20 %.
    assert.equal(await sparseGrads(), 3);
    compare(model, b, false);
    // Prune half of what is live in fc1: the next pass must see the new mask.
    const assign = (v: tf.Variable, t: tf.Tensor) => {
      v.assign(t);
      t.dispose();
    };
    assign(fc1.mask, tf.tidy(() => fc1.mask.mul(tf.randomUniform(fc1.shape, 0, 1, 'float32', 3).less(0.5).toFloat())));
    assign(fc1.value, tf.tidy(() => fc1.value.mul(fc1.mask)));
    compare(model, b, false);
    // Back above the threshold: dense products.
    assign(fc1.mask, tf.tidy(() => tf.randomUniform(fc1.shape, 0, 1, 'float32', 4).less(SPARSE_TRAIN_MAX_DENSITY + 0.1).toFloat()));
    assert.equal(sparseStructure(fc1), null);
    assert.equal(await sparseGrads(), 2);
    compare(model, b, false);
    b.dispose();
    model.dispose();
  });
});

test('growth sees every connection\'s gradient: a sparse model\'s dormant connections keep theirs', async () => {
  await noLeaks(async () => {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 8, options: { hidden: '300,100', density: 0.1 } });
    const fc1 = model.params.find((p) => p.name === 'fc1/kernel');
    assert.ok(fc1 && sparseStructure(fc1) !== null, 'fc1 at 10 % would train on its live connections');
    const [b] = batches(64, 64);
    // The default scope is every connection: the dense products, bit for bit the taped pass.
    assert.ok(!(await kernelsOf(model, b, 'all')).some((k) => k.startsWith('BonsaiSparse')));
    compare(model, b, true, 'all');
    // And the trainer's growth evaluation (which accumulates these) has a signal at dormant connections.
    const trainer = new Trainer({ model, task: classificationTask(), batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.01 } });
    const data = makeDataset(values(64 * 784, 12), Int32Array.from({ length: 64 }, (_, i) => i % 10), [28, 28, 1]);
    // Its training steps take the live-connection products.
    const steps = await tf.profile(() => {
      trainer.trainEpoch(data, 'train', 1, 64);
    });
    assert.ok(steps.kernels.some((k) => k.name === 'BonsaiSparseKernelGrad'), 'a training step runs on the live connections');
    const [g1] = trainer.growthGradients(data, 'growth');
    const mask = fc1.mask.dataSync();
    let dormantWithGradient = 0;
    for (let i = 0; i < g1.length; i++) if (mask[i] === 0 && g1[i] !== 0) dormantWithGradient++;
    assert.ok(dormantWithGradient > 0.5 * (g1.length - fc1.live()), `${dormantWithGradient} dormant connections with a gradient`);
    trainer.dispose();
    b.dispose();
    model.dispose();
  });
});

test('the structure cache evicts the least recently used kernel, never the one a pass just fetched', async () => {
  await noLeaks(() => {
    releaseSparseStructures();
    const layers = Array.from({ length: 17 }, (_, i) => new MaskedDense({ name: `fc${i}`, inUnits: 16, units: 8, seed: i + 1, density: 0.2 }));
    const structures = layers.slice(0, 16).map((l) => sparseStructure(l.kernel));
    assert.ok(structures.every((s) => s !== null));
    // The first kernel is used again (as a pass's first layer would be), then a new one is built.
    const first = sparseStructure(layers[0].kernel);
    assert.equal(first, structures[0], 'an unchanged mask reuses its structure');
    assert.ok(sparseStructure(layers[16].kernel) !== null);
    // The first kernel's structure is still usable: the second one, least recently used, went.
    const xT = tf.tensor2d(values(16 * 4, 13), [16, 4]);
    const zT = sparseForwardT(first as NonNullable<typeof first>, xT, layers[0].kernel, layers[0].bias.value);
    assert.deepEqual(zT.shape, [8, 4]);
    assert.notEqual(sparseStructure(layers[1].kernel), structures[1], 'the least recently used structure was rebuilt');
    tf.dispose([xT, zT]);
    layers.forEach((l) => l.dispose());
    releaseSparseStructures();
  });
});
