import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../core/models/index.ts';
import { runUpdate } from '../../core/update/strategies.ts';
import { paperUpdateConfig } from '../../core/update/config.ts';
import { classificationTask } from '../../core/train/task.ts';
import { makeDataset } from '../../core/data/dataset.ts';
import { noLeaks } from '../helpers/tensors.ts';
import { initBackend } from '../../core/backend.ts';

// The default backend (wasm here, with bonsai's training kernels): the cpu backend's convolutions are far too slow for ResNet-18.
await initBackend();

test('ResNet-18 has 11.69M parameters at 224x224 with 1000 classes', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'resnet18', inputShape: [224, 224, 3], numClasses: 1000, seed: 1 });
    // torchvision's resnet18 has 11,689,512 parameters; batch-norm running statistics are state, not parameters.
    assert.equal(model.denseParams(), 11_689_512);
    assert.equal(model.kernels.length, 21); // 20 convolutions + the classifier
    const flops = model.flopsPerSample();
    assert.ok(Math.abs(flops.dense / 2 - 1.814e9) / 1.814e9 < 0.01, `MACs ${flops.dense / 2}`);
    model.dispose();
  });
});

function images(n: number, seed: number) {
  const x = new Float32Array(n * 32 * 32 * 3);
  const y = new Int32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    for (let j = 0; j < 32 * 32 * 3; j++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      // Class 1 is brighter in the top half: learnable but not trivial for a random network.
      x[i * 3072 + j] = (s / 2 ** 32) * 0.5 + (y[i] === 1 && j < 1536 ? 0.5 : 0);
    }
  }
  return makeDataset(x, y, [32, 32, 3]);
}

test('ResNet-18 at 32x32 runs one full growth and pruning update', async () => {
  const first = images(16, 1);
  const fresh = images(8, 2);
  const validation = images(16, 3);
  await noLeaks(() => {
    const config = {
      ...paperUpdateConfig, newDataEpochs: 1, allDataEpochs: 1, trainEpochs: 1, growthInterval: 1, batchSize: 8,
      augment: false, maxPruneIterations: 2, retrainEpochs: 0.5, initialDensity: 0.5,
    };
    const spec = { arch: 'resnet18', inputShape: [32, 32, 3], numClasses: 2 };
    const task = classificationTask();
    const r1 = runUpdate({ strategy: 'ours', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 2 }, config });
    const before = r1.state.model.liveParams();
    const all = makeDataset(Float32Array.from([...first.x, ...fresh.x]), Int32Array.from([...first.y, ...fresh.y]), [32, 32, 3]);
    const r2 = runUpdate({ strategy: 'ours', previous: r1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: 2 }, config });
    assert.ok(r2.growth.length === 2 && r2.growth.every((g) => g.total > 0), 'both growth phases grew connections');
    assert.ok(r2.prune.iterations.length >= 1);
    assert.ok(r2.validationError <= r2.prePruneError);
    assert.ok(r2.cost.sampleEpochs > 0 && r2.cost.flops > 0);
    assert.ok(r2.state.model.liveParams() !== before);
    r2.state.model.dispose();
  });
});
