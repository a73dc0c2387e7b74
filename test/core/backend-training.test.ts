import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../core/backend.ts';
import { noLeaks } from '../helpers/tensors.ts';

// Training LeNet-5 and a ResNet-18-style network on wasm: every kernel that the
// forward and backward passes and the optimizers run on cpu must exist on wasm,
// and the gradients must agree with cpu's.

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 31 - 1) * scale;
  });
}
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

type Params = Record<string, tf.Tensor>;
type ParamShapes = Record<string, number[]>;

const lenetShapes: ParamShapes = {
  c1: [5, 5, 1, 6], b1: [6], c2: [5, 5, 6, 16], b2: [16], d1: [64, 24], bd1: [24], d2: [24, 16], bd2: [16], d3: [16, 10], bd3: [10],
};
const lenetMasked = ['c1', 'c2', 'd1', 'd2', 'd3'];

/** LeNet-5 on 16x16 inputs: conv 5x5 same, pool 2, conv 5x5 valid, pool 2, three dense layers, masked weights. */
function lenet5(p: Params, masks: Params, x: tf.Tensor4D, pool: 'max' | 'avg'): tf.Tensor2D {
  const w = (k: string) => tf.mul(p[k], masks[k]);
  const down = (h: tf.Tensor4D) => (pool === 'max' ? tf.maxPool(h, 2, 2, 'valid') : tf.avgPool(h, 2, 2, 'valid'));
  let h = down(tf.leakyRelu(tf.add(tf.conv2d(x, w('c1') as tf.Tensor4D, 1, 'same'), p.b1), 0.01));
  h = down(tf.leakyRelu(tf.add(tf.conv2d(h, w('c2') as tf.Tensor4D, 1, 'valid'), p.b2), 0.01));
  let f = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  f = tf.leakyRelu(tf.add(tf.matMul(f, w('d1') as tf.Tensor2D), p.bd1), 0.01);
  f = tf.leakyRelu(tf.add(tf.matMul(f, w('d2') as tf.Tensor2D), p.bd2), 0.01);
  return tf.add(tf.matMul(f, w('d3') as tf.Tensor2D), p.bd3);
}

const resnetShapes: ParamShapes = {
  stem: [7, 7, 3, 8], g0: [8], b0: [8],
  k1: [3, 3, 8, 8], g1: [8], b1: [8], k2: [3, 3, 8, 8], g2: [8], b2: [8],
  k3: [3, 3, 8, 12], g3: [12], b3: [12], k4: [3, 3, 12, 12], g4: [12], b4: [12], proj: [1, 1, 8, 12], g5: [12], b5: [12],
  fc: [12, 10], fcb: [10],
};

/** Batch norm with batch statistics, from moments (fused: tf.batchNorm). */
function batchNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, fused: boolean): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  if (fused) return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3) as tf.Tensor4D;
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-3))), gamma), beta) as tf.Tensor4D;
}

/** ResNet-18's parts: 7x7/2 stem, 3x3/2 max pool, a basic block, a strided block with a 1x1/2 projection, global average pool. */
function resnet(p: Params, x: tf.Tensor4D, fused: boolean): tf.Tensor2D {
  const conv = (h: tf.Tensor4D, k: string, stride: number) => tf.conv2d(h, p[k] as tf.Tensor4D, stride, 'same');
  let h = tf.relu(batchNorm(conv(x, 'stem', 2), p.g0 as tf.Tensor, p.b0, fused));
  h = tf.maxPool(h, 3, 2, 'same');
  let y = tf.leakyRelu(batchNorm(conv(h, 'k1', 1), p.g1, p.b1, fused), 0.01);
  y = batchNorm(conv(y, 'k2', 1), p.g2, p.b2, fused);
  h = tf.relu(tf.add(h, y));
  let z = tf.relu(batchNorm(conv(h, 'k3', 2), p.g3, p.b3, fused));
  z = batchNorm(conv(z, 'k4', 1), p.g4, p.b4, fused);
  h = tf.leakyRelu(tf.add(z, batchNorm(conv(h, 'proj', 2), p.g5, p.b5, fused)), 0.01);
  return tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, p.fc as tf.Tensor2D), p.fcb);
}

function makeParams(shapes: ParamShapes, seed: number): Params {
  const p: Params = {};
  for (const [i, [k, shape]] of Object.entries(shapes).entries()) {
    // Batch-norm scales (g*) near 1, everything else near 0.
    const v = k.startsWith('g') ? values(size(shape), seed + i, 0.1).map((a) => a + 1) : values(size(shape), seed + i, 0.3);
    p[k] = tf.tensor(v, shape);
  }
  return p;
}

const batch = 3;
const labels = () => tf.tidy(() => tf.oneHot(tf.tensor1d([1, 4, 7], 'int32'), 10));

/** The gradients of the softmax cross-entropy of one network w.r.t. all its parameters, as arrays. */
function gradients(net: 'lenet-max' | 'lenet-avg' | 'resnet' | 'resnet-fused'): Record<string, Float32Array> {
  return tf.tidy(() => {
    const lenet = net.startsWith('lenet');
    const p = makeParams(lenet ? lenetShapes : resnetShapes, 10);
    const masks: Params = {};
    if (lenet) for (const [i, k] of lenetMasked.entries()) {
      masks[k] = tf.cast(tf.greater(tf.tensor(values(size(lenetShapes[k]), 50 + i), lenetShapes[k]), -0.4), 'float32');
    }
    const x = lenet ? tf.tensor4d(values(batch * 16 * 16, 7), [batch, 16, 16, 1]) : tf.tensor4d(values(batch * 16 * 14 * 3, 8), [batch, 16, 14, 3]);
    const names = Object.keys(p);
    const loss = (...ps: tf.Tensor[]) => {
      const q: Params = Object.fromEntries(names.map((k, i) => [k, ps[i]]));
      const logits = lenet ? lenet5(q, masks, x, net === 'lenet-max' ? 'max' : 'avg') : resnet(q, x, net === 'resnet-fused');
      return tf.losses.softmaxCrossEntropy(labels(), logits) as tf.Scalar;
    };
    const gs = tf.grads(loss)(names.map((k) => p[k]));
    return Object.fromEntries(names.map((k, i) => [k, gs[i].dataSync() as Float32Array]));
  });
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs `fn` on the backend `name` (the reference), checking it leaves no tensor behind. */
async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  const previous = tf.getBackend();
  await tf.setBackend(name);
  try {
    return await noLeaks(fn);
  } finally {
    await tf.setBackend(previous);
  }
}

async function noLeaksWasm<T>(fn: () => T): Promise<T> {
  const backend = tf.backend() as BackendWasm;
  const before = backend.numDataIds();
  const result = await noLeaks(fn);
  assert.equal(backend.numDataIds(), before, `wasm buffers leaked: ${backend.numDataIds() - before}`);
  return result;
}

/** One SGD-with-momentum step and one Adam step on each network; the optimizers' kernels must exist too. */
function optimizerSteps(): void {
  for (const net of ['lenet', 'resnet'] as const) {
    const lenet = net === 'lenet';
    const p = makeParams(lenet ? lenetShapes : resnetShapes, 20);
    const vars = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, tf.variable(t)]));
    tf.dispose(Object.values(p));
    const masks: Params = {};
    if (lenet) for (const k of lenetMasked) masks[k] = tf.onesLike(vars[k]);
    const x = lenet ? tf.tensor4d(values(batch * 16 * 16, 7), [batch, 16, 16, 1]) : tf.tensor4d(values(batch * 16 * 14 * 3, 8), [batch, 16, 14, 3]);
    const y = labels();
    for (const opt of [tf.train.momentum(0.01, 0.9), tf.train.adam(0.001)]) {
      tf.tidy(() => {
        opt.minimize(() => tf.losses.softmaxCrossEntropy(y, lenet ? lenet5(vars, masks, x, 'max') : resnet(vars, x, false)) as tf.Scalar);
      });
      opt.dispose();
      // tfjs-core 4.22: MomentumOptimizer.dispose skips SGDOptimizer's learning-rate scalar.
      if (opt instanceof tf.MomentumOptimizer) tf.dispose((opt as unknown as { c: tf.Tensor }).c);
    }
    tf.dispose([...Object.values(vars), ...Object.values(masks), x, y]);
  }
}

const augmentMaps = [[1.05, 0.1, -1, -0.05, 0.95, 0.5, 0, 0], [0.9, 0, 1, 0, 1.1, -1, 0.001, 0]];

/** Augmentation by an affine (and a projective) map per image, as the image pipeline does. */
function augment(images: number[] = [0, 1]): Float32Array {
  return tf.tidy(() => {
    const all = tf.tensor4d(values(2 * 12 * 10 * 2, 3), [2, 12, 10, 2]);
    const x = tf.gather(all, images);
    const maps = tf.tensor2d(images.map((i) => augmentMaps[i]));
    return tf.image.transform(x, maps, 'bilinear', 'constant', 0).dataSync() as Float32Array;
  });
}

before(async () => {
  const info = await initBackend({ force: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
  (tf.engine().findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
});

test('every kernel that training LeNet-5 and ResNet-18 runs on cpu is registered for wasm', async () => {
  const used = new Set<string>();
  const originals = tf.getKernelsForBackend('cpu');
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, 'cpu');
    tf.registerKernel({ ...k, kernelFunc: (args) => { used.add(k.kernelName); return k.kernelFunc(args); } });
  }
  try {
    await onBackend('cpu', () => {
      for (const net of ['lenet-max', 'lenet-avg', 'resnet', 'resnet-fused'] as const) gradients(net);
      optimizerSteps();
      augment();
    });
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, 'cpu');
      tf.registerKernel(k);
    }
  }
  for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad', 'FusedBatchNorm', 'Transform']) {
    assert.ok(used.has(kernel), `the networks exercise ${kernel}`);
  }
  const missing = [...used].filter((k) => tf.getKernel(k, 'wasm') === undefined);
  assert.deepEqual(missing, []);
});

for (const net of ['lenet-max', 'lenet-avg', 'resnet', 'resnet-fused'] as const) {
  test(`gradients of ${net} on wasm match cpu to 1e-4`, async () => {
    const onWasm = await noLeaksWasm(() => gradients(net));
    const onCpu = await onBackend('cpu', () => gradients(net));
    for (const k of Object.keys(onCpu)) {
      const err = relativeError(onWasm[k], onCpu[k]);
      assert.ok(err < 1e-4, `${net} d/d${k}: relative error ${err}`);
    }
  });
}

test('momentum and Adam steps run on wasm without leaking', async () => {
  await noLeaksWasm(() => optimizerSteps());
});

test('tf.image.transform augmentation on wasm matches cpu, image by image', async () => {
  const onWasm = await noLeaksWasm(() => augment());
  // tfjs-backend-cpu 4.22 fills every image after the first with zeros, so the
  // reference transforms one image at a time.
  const onCpu = await onBackend('cpu', () => [augment([0]), augment([1])]);
  const half = onWasm.length / 2;
  assert.ok(relativeError(onWasm.subarray(0, half), onCpu[0]) < 1e-5);
  assert.ok(relativeError(onWasm.subarray(half), onCpu[1]) < 1e-5);
  assert.ok(onCpu[1].some((v) => v !== 0));
});
