import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../core/backend.ts';
import { noLeaks } from '../helpers/tensors.ts';

// BONSAI_BACKEND=wasm and BONSAI_THREADS=2: the threaded wasm build runs in Node
// with 2 XNNPACK threads, computes what cpu computes, and lets the process exit
// (the test runner would time out on a worker that keeps the event loop alive).

test('BONSAI_BACKEND=wasm with BONSAI_THREADS=2 runs the threaded SIMD build on 2 threads', async () => {
  process.env.BONSAI_BACKEND = 'wasm';
  process.env.BONSAI_THREADS = '2';
  const info = await initBackend();
  delete process.env.BONSAI_BACKEND;
  delete process.env.BONSAI_THREADS;
  assert.equal(info.name, 'wasm');
  assert.equal(info.reason, 'forced by BONSAI_BACKEND=wasm; 2 threads (BONSAI_THREADS)');
  assert.equal(info.threads, 2);
  assert.equal(info.simd, true);
});

test('matMul and conv2d gradients on 2 threads match cpu', async () => {
  await initBackend();
  (tf.engine().findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
  const compute = () => tf.tidy(() => {
    const a = tf.tensor2d(Array.from({ length: 96 * 80 }, (_, i) => Math.sin(i)), [96, 80]);
    const b = tf.tensor2d(Array.from({ length: 80 * 72 }, (_, i) => Math.cos(i)), [80, 72]);
    const x = tf.tensor4d(Array.from({ length: 2 * 16 * 16 * 8 }, (_, i) => Math.sin(i * 0.7)), [2, 16, 16, 8]);
    const w = tf.tensor4d(Array.from({ length: 3 * 3 * 8 * 16 }, (_, i) => Math.cos(i * 0.3)), [3, 3, 8, 16]);
    const [dx, dw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, 2, 'same'))))([x, w]);
    return [tf.matMul(a, b), dx, dw].map((t) => t.dataSync() as Float32Array);
  });
  const backend = tf.backend() as BackendWasm;
  const buffers = backend.numDataIds();
  const onWasm = await noLeaks(compute);
  assert.equal(backend.numDataIds(), buffers);
  await tf.setBackend('cpu');
  const onCpu = compute();
  await tf.setBackend('wasm');
  for (const [i, ref] of onCpu.entries()) {
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < ref.length; j++) {
      diff = Math.max(diff, Math.abs(onWasm[i][j] - ref[j]));
      scale = Math.max(scale, Math.abs(ref[j]));
    }
    assert.ok(diff / scale < 1e-4, `output ${i}: relative error ${diff / scale}`);
  }
});
