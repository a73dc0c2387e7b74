import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, backendInfo } from '../../core/backend.ts';
import { noLeaks } from '../helpers/tensors.ts';

// The automatic choice on a machine without the optional native packages
// (@tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node): wasm, and why.

delete process.env.BONSAI_BACKEND;

/** True when the optional package can be resolved here (then the expectations below do not apply). */
function installed(pkg: string): boolean {
  try {
    import.meta.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const nativeInstalled = installed('@tensorflow/tfjs-node-gpu') || installed('@tensorflow/tfjs-node');

test('without the native packages, initBackend falls back to wasm, says why, and logs it once', { skip: nativeInstalled && 'a native tfjs package is installed' }, async () => {
  assert.equal(backendInfo(), null);
  const lines: string[] = [];
  const [info, again] = await Promise.all([initBackend({ log: (m) => lines.push(m) }), initBackend({ log: (m) => lines.push(m) })]);
  assert.equal(info, again, 'concurrent calls share one initialisation');
  assert.equal(info.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.equal(info.package, '@tensorflow/tfjs-backend-wasm');
  assert.match(info.reason, /^@tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node is not installed; \d+ threads? \(\d+ cores, 1-minute load \d+\.\d\d\)/);
  assert.equal(info.simd, true);
  assert.ok(info.threads >= 1);
  assert.equal(info.versions['tfjs-core'], tf.version_core);
  assert.equal(info.versions['tfjs-backend-wasm'], '4.22.0');
  assert.equal(info.versions.node, process.versions.node);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^backend: wasm \(@tensorflow\/tfjs-backend-wasm 4\.22\.0, \d+ threads?, SIMD\): /);
  assert.ok(Object.isFrozen(info));
});

test('a second call returns the same info; forcing the running backend is fine, forcing another is a conflict', async () => {
  const info = await initBackend();
  assert.equal(await initBackend(), info);
  assert.equal(backendInfo(), info);
  assert.equal(await initBackend({ force: info.name }), info);
  await assert.rejects(initBackend({ force: info.name === 'cpu' ? 'wasm' : 'cpu' }), (e: unknown) => {
    const err = e as { code?: string; details?: Record<string, unknown> };
    return err.code === 'BONSAI_CORE_BACKEND_CONFLICT' && err.details?.running === info.name;
  });
  assert.equal(backendInfo(), info);
});

test('gradients are registered, so tfjs-core ops can be differentiated', async () => {
  await initBackend();
  await noLeaks(() => {
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.div(tf.leakyRelu(x, 0.01), 2)))(tf.tensor1d([-2, 3])).arraySync());
    assert.deepEqual(g, [Math.fround(0.005), 0.5]);
  });
});
