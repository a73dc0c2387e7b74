/** Per-sample classification errors: several batches share one weight snapshot, with the answers of W*M formed per batch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { createModel } from '../../core/models/index.ts';
import { makeDataset } from '../../core/data/dataset.ts';
import { classErrors } from '../../core/train/task.ts';
import { noLeaks } from '../helpers/tensors.ts';

// The default backend, where evaluations run.
await initBackend();

const CASES: Array<['lenet5' | 'resnet18', number[]]> = [['lenet5', [12, 12, 1]], ['resnet18', [16, 16, 3]]];
for (const [arch, shape] of CASES) {
  test(`classErrors over several batches of a ${arch} gives each sample's error as W*M formed per sample does, and frees everything`, async () => {
    await noLeaks(() => {
      const model = createModel({ arch, inputShape: shape, numClasses: 4, seed: 9, ...(arch === 'resnet18' && { options: { width: 2 } }) });
      model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 40 + i).less(0.7).toFloat())));
      const n = 23;
      const size = shape.reduce((a, b) => a * b, 1);
      const x = Float32Array.from({ length: n * size }, (_, i) => ((i * 29) % 23) / 22);
      const y = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4);
      const data = makeDataset(x, y, shape);
      // One sample at a time, W*M formed on every call: the reference.
      const expected: number[] = Array.from({ length: n }, (_, i) => tf.tidy(() => {
        const p = model.predict(tf.tensor(x.subarray(i * size, (i + 1) * size), [1, ...shape]));
        return p.argMax(1).dataSync()[0] === y[i] ? 0 : 1;
      }));
      const got = classErrors(model, data, 5);
      assert.deepEqual(Array.from(got.errors), expected);
      assert.equal(got.rate, expected.reduce((a, b) => a + b, 0) / n);
      assert.ok(got.rate > 0 && got.rate < 1, `an untrained model gets some right and some wrong (rate ${got.rate})`);
      model.dispose();
    });
  });
}
