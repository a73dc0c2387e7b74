import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { retrainFor } from '../../core/prune/iterative.ts';
import { createModel } from '../../core/models/index.ts';
import { Trainer } from '../../core/train/trainer.ts';
import { classificationTask } from '../../core/train/task.ts';
import { blobs } from '../helpers/synthetic.ts';
import { noLeaks } from '../helpers/tensors.ts';
import type { MaskedModel } from '../../core/models/model.ts';

/** A 10-12-4 MLP with half of its first kernel masked, a trainer at batch 10 whose every step's parameters are recorded. */
function recordedMlp(): { model: MaskedModel; trainer: Trainer<ReturnType<typeof blobs>>; iterates: Float32Array[][] } {
  const model = createModel({ arch: 'mlp', inputShape: [10], numClasses: 4, options: { hidden: '12' }, seed: 3 });
  const k = model.kernels[0];
  const mask = Float32Array.from(k.mask.dataSync(), (_, i) => (i % 2 === 0 ? 1 : 0));
  k.setMask(tf.tensor(mask, k.shape));
  const trainer = new Trainer({ model, task: classificationTask(), batchSize: 10, seed: 5, optimizer: { kind: 'sgd', learningRate: 0.1, momentum: 0.9 } });
  const iterates: Float32Array[][] = [];
  const step = trainer.optimizer.step.bind(trainer.optimizer);
  trainer.optimizer.step = (params, grads) => {
    step(params, grads);
    iterates.push(params.map((p) => Float32Array.from(p.value.dataSync())));
  };
  return { model, trainer, iterates };
}

const values = (model: MaskedModel): Float32Array[] => model.params.map((p) => Float32Array.from(p.value.dataSync()));

test('averaged retraining ends at the mean of the iterates over the second half of its budget', async () => {
  await noLeaks(() => {
    const train = blobs(40, 10, 4, 1);
    const { model, trainer, iterates } = recordedMlp();
    // 80 samples at batch 10: 8 steps, of which the last 4 (after the first 40 samples) are averaged.
    const samples = retrainFor(trainer, train, 2, 'prune', 1, true);
    assert.equal(samples, 80);
    assert.equal(iterates.length, 8);
    const got = values(model);
    got.forEach((v, p) => {
      for (let i = 0; i < v.length; i++) {
        const mean = (iterates[4][p][i] + iterates[5][p][i] + iterates[6][p][i] + iterates[7][p][i]) / 4;
        assert.ok(Math.abs(v[i] - mean) <= 1e-5 * Math.max(1, Math.abs(mean)), `param ${p}[${i}]: ${v[i]} against the mean ${mean}`);
      }
    });
    // It is not the last iterate: the average moved the model.
    assert.ok(got.some((v, p) => v.some((x, i) => Math.abs(x - iterates[7][p][i]) > 1e-6)));
    // Masked connections stay zero.
    const mask = model.kernels[0].mask.dataSync();
    const w = model.kernels[0].value.dataSync();
    for (let i = 0; i < w.length; i++) if (mask[i] === 0) assert.equal(w[i], 0);
    trainer.dispose();
    model.dispose();
  });
});

test('retraining without averaging ends at the last iterate', async () => {
  await noLeaks(() => {
    const train = blobs(40, 10, 4, 1);
    const { model, trainer, iterates } = recordedMlp();
    retrainFor(trainer, train, 0.5, 'prune', 1);
    assert.equal(iterates.length, 2);
    values(model).forEach((v, p) => assert.deepEqual(v, iterates[1][p]));
    trainer.dispose();
    model.dispose();
  });
});

test('a budget of one step averages that step alone, and a trainer disposed while averaging leaks nothing', async () => {
  await noLeaks(() => {
    const train = blobs(40, 10, 4, 1);
    const { model, trainer, iterates } = recordedMlp();
    retrainFor(trainer, train, 0.25, 'prune', 1, true);
    assert.equal(iterates.length, 1);
    values(model).forEach((v, p) => v.forEach((x, i) => assert.ok(Math.abs(x - iterates[0][p][i]) <= 1e-6)));
    trainer.beginAverage(0);
    trainer.trainEpoch(train, 'prune', 2, 10);
    trainer.dispose();
    model.dispose();
  });
});
