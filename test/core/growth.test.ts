import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { applyGrowth, growMask, percentile } from '../../core/grow/gradient-growth.ts';
import { createModel } from '../../core/models/index.ts';
import { Trainer } from '../../core/train/trainer.ts';
import { classificationTask } from '../../core/train/task.ts';
import { blobs } from '../helpers/synthetic.ts';
import { noLeaks } from '../helpers/tensors.ts';

test('percentile interpolates linearly between closest ranks', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 0), 1);
  assert.equal(percentile([5, 1, 4, 2, 3], 100), 5);
  assert.ok(Math.abs(percentile([5, 1, 4, 2, 3], 40) - 2.6) < 1e-12); // rank 0.4*4 = 1.6 -> 2 + 0.6
  assert.equal(percentile([7], 30), 7);
});

test('growth over the dormant connections only: the alpha-th percentile of their |g| (hand-computed)', () => {
  // 8 entries, 3 live (mask 1), 5 dormant with |g| = 0.1, 0.5, 0.2, 0.9, 0.3.
  const mask = Float32Array.from([1, 0, 0, 1, 0, 0, 1, 0]);
  const grads = Float32Array.from([9, -0.1, 0.5, 9, -0.2, 0.9, 9, -0.3]);
  // Dormant |g| sorted: 0.1 0.2 0.3 0.5 0.9; 40th percentile: rank 1.6 -> 0.2 + 0.6*0.1 = 0.26.
  const d = growMask(grads, mask, 40, 'dormant');
  assert.ok(Math.abs(d.threshold - 0.26) < 1e-6);
  assert.deepEqual([...d.grown], [2, 5, 7]);
  assert.deepEqual([...d.mask], [1, 0, 1, 1, 0, 1, 1, 1]);
  // alpha = 50: threshold 0.3 (the median); strictly greater -> 0.5 and 0.9 only.
  assert.deepEqual([...growMask(grads, mask, 50, 'dormant').grown], [2, 5]);
  // Live connections are never touched even with huge gradients, and a full mask grows nothing.
  assert.equal(growMask(grads, new Float32Array(8).fill(1), 40, 'dormant').grown.length, 0);
});

test('growth as eq. (1) writes it: the alpha-th percentile over all of |W.grad| (hand-computed)', () => {
  const mask = Float32Array.from([1, 0, 0, 1, 0, 0, 1, 0]);
  const grads = Float32Array.from([9, -0.1, 0.5, 9, -0.2, 0.9, 9, -0.3]);
  // All |g| sorted: 0.1 0.2 0.3 0.5 0.9 9 9 9; 40th percentile: rank 2.8 -> 0.3 + 0.8*0.2 = 0.46.
  const d = growMask(grads, mask, 40);
  assert.ok(Math.abs(d.threshold - 0.46) < 1e-6);
  assert.deepEqual([...d.grown], [2, 5]);
  // alpha = 50: rank 3.5 -> 0.5 + 0.5*0.4 = 0.7: only 0.9 exceeds it.
  const half = growMask(grads, mask, 50);
  assert.ok(Math.abs(half.threshold - 0.7) < 1e-6);
  assert.deepEqual([...half.grown], [5]);
  assert.equal(growMask(grads, new Float32Array(8).fill(1), 40).grown.length, 0);
});

test('growth scores equal tf.grad of the loss w.r.t. the dense effective weights', async () => {
  const data = blobs(48, 6, 3, 11);
  await noLeaks(() => {
    const model = createModel({ arch: 'mlp', inputShape: [6], numClasses: 3, options: { hidden: '5' }, seed: 7 });
    const [k1, , k2] = model.params;
    k1.setMask(tf.tidy(() => tf.randomUniform(k1.shape, 0, 1, 'float32', 3).less(0.5).toFloat()));
    k2.setMask(tf.tidy(() => tf.randomUniform(k2.shape, 0, 1, 'float32', 4).less(0.5).toFloat()));
    const trainer = new Trainer({ model, task: classificationTask(), batchSize: 16, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.1 } });
    const scores = trainer.growthGradients(data, 'growth');
    // Reference: an independent forward pass on plain tensors, whole data set at once.
    const [b1, b2] = [model.params[1].value, model.params[3].value];
    const w1 = tf.tidy(() => k1.value.mul(k1.mask));
    const w2 = tf.tidy(() => k2.value.mul(k2.mask));
    const x = tf.tensor2d(data.x, [data.n, 6]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(data.y, 'int32'), 3));
    const loss = (a: tf.Tensor, b: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, tf.leakyRelu(x.matMul(a as tf.Tensor2D).add(b1), 0.01).matMul(b as tf.Tensor2D).add(b2));
    const [g1, g2] = tf.grads(loss)([w1, w2]);
    for (const [ours, ref] of [[scores[0], g1.dataSync()], [scores[1], g2.dataSync()]] as const) {
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(ours[i] - ref[i]) < 1e-5, `entry ${i}: ${ours[i]} vs ${ref[i]}`);
    }
    // Updates were paused: no parameter moved, and the whole epoch counts as cost.
    assert.equal(trainer.cost.summary(data.n).sampleEpochs, data.n);
    tf.dispose([w1, w2, x, y, g1, g2]);
    trainer.dispose();
    model.dispose();
  });
});

test('grown connections start at -lr*g, which lowers the loss', async () => {
  const data = blobs(64, 6, 3, 5);
  await noLeaks(() => {
    const model = createModel({ arch: 'mlp', inputShape: [6], numClasses: 3, options: { hidden: '8' }, seed: 3 });
    for (const k of model.kernels) k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 2).less(0.3).toFloat()));
    const trainer = new Trainer({ model, task: classificationTask(), batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.05 } });
    const lossOf = () => tf.tidy(() => {
      const x = tf.tensor2d(data.x, [data.n, 6]);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(data.y, 'int32'), 3), model.forward(x, { training: false })).dataSync()[0];
    });
    const before = lossOf();
    const liveBefore = model.liveParams();
    const grads = trainer.growthGradients(data, 'growth');
    const report = applyGrowth(model, grads, 40, 0.05);
    assert.equal(model.liveParams() - liveBefore, report.total);
    const [name] = Object.keys(report.indices);
    const k = model.kernels[0];
    const values = k.value.dataSync();
    for (const j of report.indices[name]) assert.ok(Math.abs(values[j] + 0.05 * grads[0][j]) < 1e-7);
    assert.ok(lossOf() < before, 'growth step did not lower the loss');
    trainer.dispose();
    model.dispose();
  });
});
