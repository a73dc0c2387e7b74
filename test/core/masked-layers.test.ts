import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tfl from '@tensorflow/tfjs';
import * as tf from '../../core/tf.ts';
import { MaskedDense } from '../../core/sparse/masked-dense.ts';
import { MaskedConv2d, sameAsValidCrop } from '../../core/sparse/masked-conv2d.ts';
import { MaskedOptimizer } from '../../core/train/optimizer.ts';
import { noLeaks } from '../helpers/tensors.ts';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `index ${i}: ${a[i]} vs ${b[i]}`);
}

test('a masked dense layer with an all-ones mask equals tf.layers.dense', async () => {
  await noLeaks(() => {
    const layer = new MaskedDense({ name: 'fc', inUnits: 7, units: 5, seed: 3 });
    const ref = tfl.layers.dense({ units: 5, inputShape: [7] });
    ref.build([null, 7]);
    ref.setWeights([layer.kernel.value, layer.bias.value]);
    const x = tf.randomNormal([4, 7], 0, 1, 'float32', 1);
    const ours = layer.apply(x, { training: false });
    const theirs = ref.apply(x) as tf.Tensor;
    close(ours.dataSync(), theirs.dataSync());
    tf.dispose([x, ours, theirs]);
    ref.weights.forEach((w) => w.dispose());
    layer.dispose();
  });
});

test('the forward pass uses W*M: masked connections contribute nothing', async () => {
  await noLeaks(() => {
    const layer = new MaskedDense({ name: 'fc', inUnits: 3, units: 2, seed: 1 });
    layer.kernel.setMask(tf.tensor2d([[1, 0], [0, 0], [1, 1]]));
    const x = tf.tensor2d([[1, 2, 3]]);
    const w = layer.kernel.value.arraySync() as number[][];
    const yt = layer.apply(x, { training: false });
    const y = yt.dataSync();
    yt.dispose();
    close(y, [w[0][0] + 3 * w[2][0], 3 * w[2][1]]);
    assert.ok(w[1][0] === 0);
    assert.ok(w[0][1] === 0);
    x.dispose();
    layer.dispose();
  });
});

test('a masked conv2d equals tf.conv2d with the kernel times its mask', async () => {
  await noLeaks(() => {
    const layer = new MaskedConv2d({ name: 'c', inChannels: 2, filters: 3, kernelSize: 3, strides: 2, padding: 'same', seed: 2 });
    const mask = tf.tidy(() => tf.randomUniform([3, 3, 2, 3], 0, 1, 'float32', 9).less(0.5).toFloat());
    layer.kernel.setMask(tf.clone(mask));
    const x = tf.randomNormal([2, 7, 5, 2], 0, 1, 'float32', 4);
    const ours = layer.apply(x, { training: false });
    const ref = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, layer.kernel.value.mul(mask) as tf.Tensor4D, 2, 'same').add(layer.bias!.value));
    assert.deepEqual(ours.shape, [2, 4, 3, 3]);
    assert.deepEqual(layer.outputShape([7, 5, 2]), [4, 3, 3]);
    close(ours.dataSync(), ref.dataSync());
    tf.dispose([mask, x, ours, ref]);
    layer.dispose();
  });
});

test('a same convolution whose kernel overhangs the input on every side is cropped to the taps that meet it', () => {
  // 1x1 maps (ResNet-18's last stage on 32x32 images): the centre tap only.
  assert.deepEqual(sameAsValidCrop(1, 1, 3, 1), { top: 1, left: 1, height: 1, width: 1 });
  assert.deepEqual(sameAsValidCrop(1, 1, 3, 2), { top: 1, left: 1, height: 1, width: 1 });
  // The stride-2 step from 2x2 to 1x1: padding after the input only, four taps of nine.
  assert.deepEqual(sameAsValidCrop(2, 2, 3, 2), { top: 0, left: 0, height: 2, width: 2 });
  assert.deepEqual(sameAsValidCrop(1, 1, 7, 1), { top: 3, left: 3, height: 1, width: 1 });
  // Every tap used, or the used ones still need padding: no crop.
  for (const [h, w, k, s] of [[28, 28, 5, 1], [8, 8, 3, 1], [2, 2, 3, 1], [4, 4, 3, 2], [1, 3, 3, 1], [3, 3, 3, 2], [5, 5, 1, 1]]) {
    assert.equal(sameAsValidCrop(h, w, k, s), null, `${h}x${w}, kernel ${k}, stride ${s}`);
  }
});

for (const [h, w, k, s] of [[1, 1, 3, 1], [1, 1, 3, 2], [2, 2, 3, 2], [1, 1, 7, 1], [2, 2, 3, 1], [3, 1, 3, 1]]) {
  test(`a masked same conv2d on ${h}x${w} maps, kernel ${k}, stride ${s}: output and gradients equal tf.conv2d's`, async () => {
    await noLeaks(() => {
      const layer = new MaskedConv2d({ name: 'c', inChannels: 3, filters: 4, kernelSize: k, strides: s, padding: 'same', seed: 5 });
      const mask = tf.tidy(() => tf.randomUniform([k, k, 3, 4], 0, 1, 'float32', 11).less(0.7).toFloat());
      layer.kernel.setMask(tf.clone(mask));
      const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 6);
      const dy = tf.tidy(() => tf.randomNormal(layer.apply(x, { training: false }).shape, 0, 1, 'float32', 7));
      const loss = (f: (x: tf.Tensor, wt: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (xx: tf.Tensor, wt: tf.Tensor, b: tf.Tensor) => f(xx, wt, b).mul(dy).sum();
      // The layer on the given tensors (its context's weights), so that tf.grads sees them.
      const kernelName = layer.kernel.name;
      const biasName = layer.bias!.name;
      const ours = tf.grads(loss((xx, wt, b) => layer.apply(xx, { training: false, weights: new Map([[kernelName, wt.mul(mask)], [biasName, b]]) })));
      const ref = tf.grads(loss((xx, wt, b) => tf.conv2d(xx as tf.Tensor4D, wt.mul(mask) as tf.Tensor4D, s, 'same').add(b)));
      const args = [x, layer.kernel.value, layer.bias!.value];
      const [ga, gb] = [ours(args), ref(args)];
      const ya = layer.apply(x, { training: false });
      const yb = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, layer.kernel.value.mul(mask) as tf.Tensor4D, s, 'same').add(layer.bias!.value));
      assert.deepEqual(ya.shape, yb.shape);
      close(ya.dataSync(), yb.dataSync(), 1e-4);
      ga.forEach((g, i) => close(g.dataSync(), gb[i].dataSync(), 1e-4));
      tf.dispose([mask, x, dy, ya, yb, ...ga, ...gb]);
      layer.dispose();
    });
  });
}

for (const kind of ['sgd', 'adam'] as const) {
  test(`pruned weights and their ${kind} slots stay zero through training steps`, async () => {
    await noLeaks(() => {
      const layer = new MaskedDense({ name: 'fc', inUnits: 4, units: 3, seed: 5 });
      const opt = new MaskedOptimizer({ kind, learningRate: 0.1, momentum: 0.9 });
      // Steps with everything live build momentum in every slot.
      for (let i = 0; i < 3; i++) {
        const grads = [tf.onesLike(layer.kernel.value), tf.onesLike(layer.bias.value)];
        opt.step(layer.params, grads);
        tf.dispose(grads);
      }
      const mask = [[1, 0, 1], [0, 0, 1], [1, 1, 0], [1, 1, 1]];
      layer.kernel.setMask(tf.tensor2d(mask));
      opt.syncMasks(layer.params);
      // syncMasks itself zeroes the slots of pruned weights, before any step does.
      const synced = opt.slotsOf(layer.kernel, kind === 'adam' ? 2 : 1).map((s) => s.arraySync() as number[][]);
      for (const s of synced) {
        mask.forEach((row, i) => row.forEach((m, j) => {
          if (m === 0) assert.ok(s[i][j] === 0, `syncMasks left slot [${i}][${j}] at ${s[i][j]}`);
          else assert.notEqual(s[i][j], 0);
        }));
      }
      for (let i = 0; i < 5; i++) {
        const grads = [tf.fill([4, 3], 0.7), tf.fill([3], 0.7)];
        opt.step(layer.params, grads);
        tf.dispose(grads);
      }
      const w = layer.kernel.value.arraySync() as number[][];
      const slots = opt.slotsOf(layer.kernel, kind === 'adam' ? 2 : 1).map((s) => s.arraySync() as number[][]);
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 3; j++) {
          if (mask[i][j] === 0) {
            assert.ok(w[i][j] === 0, `pruned weight [${i}][${j}] came back: ${w[i][j]}`);
            for (const s of slots) assert.ok(s[i][j] === 0, `slot of pruned weight [${i}][${j}] is ${s[i][j]}`);
          } else {
            assert.notEqual(w[i][j], 0);
          }
        }
      }
      opt.dispose();
      layer.dispose();
    });
  });
}

test('a connection pruned and regrown before any step starts without its old momentum', async () => {
  await noLeaks(() => {
    const layer = new MaskedDense({ name: 'fc', inUnits: 2, units: 2, seed: 5 });
    const opt = new MaskedOptimizer({ kind: 'sgd', learningRate: 0.1, momentum: 0.9 });
    const step = (g: number): void => {
      const grads = [tf.fill([2, 2], g), tf.fill([2], g)];
      opt.step(layer.params, grads);
      tf.dispose(grads);
    };
    for (let i = 0; i < 3; i++) step(1);
    layer.kernel.setMask(tf.tensor2d([[1, 0], [0, 1]]));
    opt.syncMasks(layer.params);
    // Regrown at zero, then a step with zero gradient: only stale momentum could move them.
    layer.kernel.setMask(tf.ones([2, 2]));
    opt.syncMasks(layer.params);
    step(0);
    const w = layer.kernel.value.arraySync() as number[][];
    assert.ok(w[0][1] === 0, `regrown weight [0][1] moved to ${w[0][1]}`);
    assert.ok(w[1][0] === 0, `regrown weight [1][0] moved to ${w[1][0]}`);
    assert.notEqual(w[0][0], 0);
    opt.dispose();
    layer.dispose();
  });
});

test('the output layer grows units with dormant incoming connections', async () => {
  await noLeaks(() => {
    const layer = new MaskedDense({ name: 'head', inUnits: 4, units: 2, seed: 5 });
    layer.addUnits(2);
    assert.deepEqual(layer.kernel.shape, [4, 4]);
    assert.deepEqual(layer.bias.shape, [4]);
    const m = layer.kernel.mask.arraySync() as number[][];
    for (const row of m) assert.deepEqual(row, [1, 1, 0, 0]);
    layer.dispose();
  });
});
