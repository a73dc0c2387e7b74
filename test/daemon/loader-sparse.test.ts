/** The loader serves a sparse-enough classifier through the sparse plan: same answers as the dense path, disposed with the model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { createModel } from '../../core/models/index.ts';
import { saveModel } from '../../core/serialize/index.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { registryLoader } from '../../daemon/serving/loader.ts';
import { noLeaks } from '../helpers/tensors.ts';
import { input, tempModels } from './registry-helpers.ts';

await initBackend();

const LABELS = ['a', 'b', 'c', 'd', 'e'];

test('a 5 %-dense LeNet-300-100 answers the same probabilities with and without sparse inference, and frees everything on dispose', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const registry = await openRegistry(dir);
    const model = createModel({ arch: 'lenet300', inputShape: [8, 8, 1], numClasses: 6, options: { hidden: '40,20' }, seed: 3 });
    model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 11 + i).less(0.05).toFloat())));
    // Six output units, five labels: the extra column must be dropped on both paths.
    const version = await registry.publish((d) => saveModel(model, d, { parent: null, labels: LABELS }).then(() => undefined), input());
    model.dispose();
    await noLeaks(async () => {
      const sparse = await registryLoader(registry, 'image')(version);
      const dense = await registryLoader(registry, 'image', { sparse: false })(version);
      try {
        await sparse.warmUp();
        const n = 3;
        const x = Float32Array.from({ length: n * 64 }, (_, i) => ((i * 37) % 11) / 10);
        const got = await sparse.predict(x, n);
        const want = await dense.predict(x, n);
        assert.equal(got.length, n * LABELS.length);
        assert.equal(want.length, n * LABELS.length);
        got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-5, `index ${i}: ${v} vs ${want[i]}`));
      } finally {
        sparse.dispose();
        dense.dispose();
      }
    });
  } finally {
    cleanup();
  }
});

test('a served ResNet-18 answers from its weight snapshot what the model answers with W*M formed every call, and frees the snapshot on dispose', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const registry = await openRegistry(dir);
    // 16x16 images through the 7x7/2 stem and the pool: the last stages run on 2x2 and 1x1 maps (cropped filters).
    const model = createModel({ arch: 'resnet18', inputShape: [16, 16, 3], numClasses: 5, options: { width: 2 }, seed: 4 });
    model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 31 + i).less(0.6).toFloat())));
    const n = 2;
    const x = Float32Array.from({ length: n * 16 * 16 * 3 }, (_, i) => ((i * 13) % 17) / 16);
    const want = tf.tidy(() => model.predict(tf.tensor(x, [n, 16, 16, 3]))).dataSync();
    const version = await registry.publish((d) => saveModel(model, d, { parent: null, labels: LABELS }).then(() => undefined), input());
    model.dispose();
    await noLeaks(async () => {
      const served = await registryLoader(registry, 'image')(version);
      try {
        await served.warmUp();
        const got = await served.predict(x, n);
        assert.deepEqual(Array.from(got), Array.from(want));
      } finally {
        served.dispose();
      }
    });
  } finally {
    cleanup();
  }
});
