import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../../core/tf.ts';
import { createModel } from '../../core/models/index.ts';
import { cloneModel, loadModel, saveModel } from '../../core/serialize/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import { noLeaks } from '../helpers/tensors.ts';

for (const spec of [
  { arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1 },
  { arch: 'lenet5', inputShape: [28, 28, 1], numClasses: 10, seed: 2 },
  { arch: 'resnet18', inputShape: [16, 16, 3], numClasses: 5, options: { width: 8 }, seed: 3 },
]) {
  test(`${spec.arch}: a saved and loaded model predicts identically, with its masks and lineage`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bonsai-ser-'));
    try {
      await noLeaks(async () => {
        const model = createModel(spec);
        for (const k of model.kernels) k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 5).less(0.4).toFloat()));
        // Non-trivial running statistics for batch norm.
        model.state.forEach((s, i) => tf.tidy(() => s.assign(tf.randomUniform(s.shape, 0.5, 1.5, 'float32', i))));
        model.addClasses(1);
        const lineage = { parent: 3, samplesSeen: 1234, labels: ['a', 'b'] };
        await saveModel(model, dir, lineage);
        const { model: loaded, file } = await loadModel(dir);
        assert.deepEqual(file.lineage, lineage);
        assert.equal(file.liveParams, model.liveParams());
        assert.equal(loaded.numClasses, spec.numClasses + 1);
        assert.equal(loaded.liveParams(), model.liveParams());
        const x = tf.randomNormal([3, ...spec.inputShape], 0, 1, 'float32', 9);
        const a = model.predict(x);
        const b = loaded.predict(x);
        assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
        const c = cloneModel(model);
        const cp = c.predict(x);
        assert.deepEqual(Array.from(a.dataSync()), Array.from(cp.dataSync()));
        tf.dispose([x, a, b, cp]);
        model.dispose();
        loaded.dispose();
        c.dispose();
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('loading a damaged model directory fails with a coded error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-ser-'));
  try {
    await noLeaks(async () => {
      const model = createModel({ arch: 'mlp', inputShape: [4], numClasses: 2, options: { hidden: '3' } });
      await saveModel(model, dir, { parent: null });
      model.dispose();
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      json.spec.options.hidden = '5';
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      await assert.rejects(loadModel(dir), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_MODEL_FORMAT');
      await rm(join(dir, 'weights.bin'));
      await assert.rejects(loadModel(dir), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_MODEL_UNREADABLE');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
