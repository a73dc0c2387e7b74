import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { createModel } from '../../core/models/index.ts';
import { makeDataset, shuffledBatches } from '../../core/data/dataset.ts';
import { backward, tapedBackward } from '../../core/train/step.ts';
import { handWrittenChain } from '../../core/train/dense-chain.ts';
import { classificationTask, type TaskBatch } from '../../core/train/task.ts';
import { maskedSgd, useMaskedSgd } from '../../core/backend/masked-sgd.ts';
import { leakyReluGrad } from '../../core/backend/leaky-relu-grad.ts';
import { MaskedDense } from '../../core/sparse/masked-dense.ts';
import { SPARSE_TRAIN_MAX_DENSITY, sparseTraining } from '../../core/train/sparse-fc.ts';
import { noLeaks } from '../helpers/tensors.ts';

// The training step's fast paths (the hand-written backward pass of a dense chain,
// the fused masked SGD kernel) must give the very values of the taped pass and the
// tfjs ops: compared bit for bit (+0 and -0 alike) on wasm and cpu.

before(async () => {
  await initBackend();
  await import('@tensorflow/tfjs-backend-cpu');
  // Dense products throughout: at the 40 % density used here kernels would otherwise
  // train on their live connections on wasm (test/core/sparse-train.test.ts compares that path).
  sparseTraining.maxDensity = 0;
});

after(() => {
  sparseTraining.maxDensity = SPARSE_TRAIN_MAX_DENSITY;
});

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  });
}

/** Compares `backward` with `tapedBackward` on every batch of `n` samples. */
function compareBackward(arch: string, inputShape: number[], hidden: string, n: number, batchSize: number, labelCount = 5): void {
  const model = createModel({ arch, inputShape, numClasses: 5, seed: 4, options: { hidden, density: 0.4 } });
  const task = classificationTask();
  assert.ok(handWrittenChain(model, task) !== null);
  const d = inputShape.reduce((a, b) => a * b, 1);
  const data = makeDataset(values(n * d, 9), Int32Array.from({ length: n }, (_, i) => (i * 7) % labelCount), inputShape);
  for (const b of shuffledBatches(data, batchSize, 2)) {
    const batch: TaskBatch = { x: b.x, size: b.size, target: b.y, dispose: () => tf.dispose([b.x, b.y]) };
    const ours = backward(model, task, batch);
    const taped = tapedBackward(model, task, batch);
    assert.equal(ours.loss, taped.loss);
    assert.equal(ours.grads.length, model.params.length);
    ours.grads.forEach((g, i) => {
      assert.deepEqual(g.shape, model.params[i].shape);
      sameBits(g.dataSync(), taped.grads[i].dataSync(), `${model.params[i].name}, batch of ${b.size}`);
    });
    tf.dispose([...ours.grads, ...taped.grads]);
    batch.dispose();
  }
  model.dispose();
}

for (const backendName of ['wasm', 'cpu']) {
  test(`${backendName}: the hand-written backward pass of an MLP equals the taped one bit for bit`, async () => {
    await tf.setBackend(backendName);
    // Batches of 16, 16 and 13: the mean's 1/B is exact for the first two, rounded for the
    // last. On wasm fc1's product and fc2's input gradient run with their roles swapped.
    await noLeaks(() => compareBackward('mlp', [6, 6, 1], '24,12', 45, 16));
    // Labels outside the head (oneHot rows of zeros) contribute nothing, as on the tape.
    await noLeaks(() => compareBackward('mlp', [6, 6, 1], '24,12', 20, 20, 7));
  });

  test(`${backendName}: the fused masked SGD kernel equals the tfjs ops bit for bit`, async () => {
    await tf.setBackend(backendName);
    assert.ok(useMaskedSgd(37 * 11));
    // On wasm large tensors take the SIMD kernel on the backend's heap (core/backend/heap-simd.ts).
    assert.ok(useMaskedSgd(784 * 300));
    // On wasm: 407 entries are 101 vectors of four and 3 single floats, 784x300 all vectors, 3 only single floats.
    for (const shape of [[37, 11], [784, 300], [3, 1]]) await noLeaks(() => {
      const n = shape[0] * shape[1];
      const grad = tf.tensor(values(n, 1).map((v) => v * 2 - 1), shape);
      const mask = tf.tensor(values(n, 2).map((v) => (v < 0.6 ? 1 : 0)), shape);
      const slot = tf.tidy(() => tf.tensor(values(n, 3).map((v) => v - 0.5), shape).mul(mask));
      const value = tf.tidy(() => tf.tensor(values(n, 4).map((v) => v * 0.2 - 0.1), shape).mul(mask));
      for (const weightDecay of [0, 5e-4]) {
        const [lr, momentum] = [0.037, 0.9];
        const [v, w] = maskedSgd(grad, mask, slot, value, { momentum, learningRate: lr, weightDecay });
        const [vRef, wRef] = tf.tidy(() => {
          let g = grad.mul(mask);
          if (weightDecay > 0) g = g.add(value.mul(weightDecay));
          const v2 = slot.mul(momentum).add(g).mul(mask);
          return [v2, value.sub(v2.mul(lr)).mul(mask)];
        });
        sameBits(v.dataSync(), vRef.dataSync(), `[${shape}] slot (weight decay ${weightDecay})`);
        sameBits(w.dataSync(), wRef.dataSync(), `[${shape}] value (weight decay ${weightDecay})`);
        // The inputs are left as they were (outputs are new tensors).
        assert.notEqual(w.dataId, value.dataId);
        tf.dispose([v, w, vRef, wRef]);
      }
      tf.dispose([grad, mask, slot, value]);
    });
  });
}

for (const backendName of ['wasm', 'cpu']) {
  test(`${backendName}: the leaky ReLU's gradient kernel equals where(x > 0, dy, dy * alpha) bit for bit`, async () => {
    await tf.setBackend(backendName);
    for (const n of [407, 3, 64 * 300]) await noLeaks(() => {
      const xs = values(n, 5).map((v) => v * 2 - 1);
      // Zeros of both signs and a NaN take the dy * alpha branch, as greater() says.
      xs[0] = 0;
      xs[1] = -0;
      xs[2] = Number.NaN;
      const x = tf.tensor1d(xs);
      const dy = tf.tensor1d(values(n, 6).map((v) => (v - 0.5) * 3));
      for (const alpha of [0.01, 0.2]) {
        const ours = leakyReluGrad(dy, x, alpha);
        const ref = tf.tidy(() => tf.where(tf.greater(x, 0), dy, dy.mul(alpha)));
        sameBits(ours.dataSync(), ref.dataSync(), `${n} entries, alpha ${alpha}`);
        tf.dispose([ours, ref]);
      }
      // And tfjs's gradient of leakyRelu is this kernel's.
      const taped = tf.grad((t: tf.Tensor) => tf.leakyRelu(t, 0.01).mul(dy).sum())(x);
      const ref = tf.tidy(() => tf.where(tf.greater(x, 0), dy, dy.mul(0.01)));
      sameBits(taped.dataSync(), ref.dataSync(), `gradient of leakyRelu, ${n} entries`);
      tf.dispose([x, dy, taped, ref]);
    });
    // On wasm the taped gradient runs the fused kernel (one kernel instead of Greater, Multiply, Select).
    const x = tf.tensor1d([-1, 2, 0, 3]);
    const info = await tf.profile(() => tf.dispose(tf.grad((t: tf.Tensor) => tf.leakyRelu(t, 0.01).sum())(x)));
    x.dispose();
    assert.equal(info.kernels.some((k) => k.name === 'BonsaiLeakyReluGrad'), backendName === 'wasm');
  });
}

test('wasm: LeNet-300-100 at batch 64 and 20: the hand-written backward pass equals the taped one bit for bit', async () => {
  await tf.setBackend('wasm');
  await noLeaks(() => compareBackward('lenet300', [28, 28, 1], '300,100', 84, 64));
});

test('models that are not one dense chain, and other losses, keep the taped pass', async () => {
  await tf.setBackend('wasm');
  await noLeaks(() => {
    const lenet5 = createModel({ arch: 'lenet5', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    assert.equal(handWrittenChain(lenet5, classificationTask()), null);
    lenet5.dispose();
    const mlp = createModel({ arch: 'mlp', inputShape: [4], numClasses: 3, seed: 1, options: { hidden: '5' } });
    assert.equal(handWrittenChain(mlp, { ...classificationTask(), lossKind: undefined }), null);
    mlp.dispose();
  });
});

test('wasm: a dense layer in inference mode (product with roles swapped) equals x (W*M) + b bit for bit', async () => {
  await tf.setBackend('wasm');
  await noLeaks(() => {
    const layer = new MaskedDense({ name: 'fc', inUnits: 784, units: 300, seed: 2, density: 0.3 });
    for (const batch of [1, 64, 300]) {
      const x = tf.tensor2d(values(batch * 784, batch), [batch, 784]);
      const ours = layer.apply(x, { training: false });
      const ref = tf.tidy(() => tf.matMul(x, layer.kernel.value.mul(layer.kernel.mask)).add(layer.bias.value));
      sameBits(ours.dataSync(), ref.dataSync(), `batch ${batch}`);
      tf.dispose([x, ours, ref]);
    }
    layer.dispose();
  });
});
