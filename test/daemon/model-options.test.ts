/**
 * Config `model.options` and `algorithm.optimizer` reach what the daemon
 * trains: modelChoice turns the options into the spec's, every option changes
 * the network it names, the trainer builds ds2 at the configured size, the
 * daemon builds an image model at its configured widths, and updateConfig picks
 * the optimizer (Adam for ds2, SGD otherwise, unless the config says).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../core/backend.ts';
import { createModel, DeepSpeech2 } from '../../core/models/index.ts';
import type { MaskedModel } from '../../core/models/model.ts';
import { loadModel } from '../../core/serialize/index.ts';
import { parseConfig, type ConfigInput } from '../../config/index.ts';
import { MODEL_OPTIONS } from '../../config/model-options.ts';
import { modelChoice, startDaemon, updateConfig } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { startTrainer, trainCandidate, type TrainJob, type TrainerOptions } from '../../daemon/trainer/index.ts';
import { openStore } from '../../pipelines/store/index.ts';
import { noLeaks } from '../helpers/tensors.ts';
import { drop, FAST_UPDATE, rng, tempStateDir, testConfig, waitFor } from './e2e-helpers.ts';

const speech = (extra: ConfigInput = {}) => parseConfig({ ...extra, model: { name: 'ds2', modality: 'audio', ...extra.model } });

test('modelChoice passes model.options as the spec reads them; an override replaces them; another architecture gets none', () => {
  const c = speech({ model: { options: { filters: [4, 4, 4], hidden: 8, rnnLayers: 2, batchNorm: false } } });
  assert.deepEqual(modelChoice(c), { arch: 'ds2', inputShape: [39], options: { filters: [4, 4, 4], hidden: 8, rnnLayers: 2, batchNorm: false } });
  assert.deepEqual(modelChoice(c, { options: { hidden: 2 } }).options, { hidden: 2 });
  const lenet = parseConfig({ model: { options: { hidden: [32, 16], density: 0.5 } } });
  assert.deepEqual(modelChoice(lenet).options, { hidden: [32, 16], density: 0.5 }, 'a list stays a list');
  assert.deepEqual(modelChoice(parseConfig({ model: { options: { hidden: '32, 16' } } })).options, { hidden: [32, 16] }, 'a list written as text becomes one');
  assert.equal(modelChoice(lenet, { arch: 'mlp' }).options, undefined, 'lenet300 options are not mlp options');
  assert.equal(modelChoice(parseConfig({ model: { options: {} } })).options, undefined);
});

/** What an option can change: layers, their sizes, live connections, gate dropout. */
function signature(model: MaskedModel): string {
  const dropout = model instanceof DeepSpeech2 ? model.rnns.flat().map((c) => c.dropout) : [];
  return JSON.stringify({ layers: model.layerCounts(), dropout });
}

test('every option of config/model-options.ts changes the network of its model', async () => {
  await initBackend({ force: 'cpu' });
  // Two values of each option, on a small base network; inputs sized for each model.
  const cases: Record<string, { input: ConfigInput['model']; base: Record<string, unknown>; values: Record<string, [unknown, unknown]> }> = {
    lenet300: { input: { image: { height: 4, width: 4 } }, base: { hidden: [6] }, values: { hidden: [[6], [5, 3]], density: [1, 0.5] } },
    resnet18: { input: { image: { height: 8, width: 8, channels: 3 } }, base: { width: 2 }, values: { width: [2, 3], stem: ['imagenet', 'cifar'] } },
    ds2: {
      input: { modality: 'audio', audio: { coefficients: 8, deltas: false } },
      base: { filters: [2, 2, 2], hidden: 3, rnnLayers: 1 },
      values: { filters: [[2, 2, 2], [2, 3, 2]], kernelTime: [3, 5], kernelFreq: [3, 5], hidden: [3, 4], gateHidden: [3, 5], rnnLayers: [1, 2], dropout: [0.2, 0], batchNorm: [true, false] },
    },
  };
  for (const [name, { input, base, values }] of Object.entries(cases)) {
    assert.deepEqual(Object.keys(values).sort(), Object.keys(MODEL_OPTIONS[name]).sort(), `${name}: every option is tried`);
    for (const [key, pair] of Object.entries(values)) {
      const [a, b] = pair.map((value) => {
        const config = parseConfig({ model: { name: name as 'ds2', ...input, options: { ...base, [key]: value } as Record<string, number> } });
        const choice = modelChoice(config);
        const inputShape = name === 'ds2' ? [20, ...choice.inputShape] : choice.inputShape;
        const model = createModel({ arch: choice.arch, inputShape, numClasses: 4, options: choice.options, seed: 3 });
        try {
          return signature(model);
        } finally {
          model.dispose();
        }
      });
      assert.notEqual(a, b, `${name}.${key}: ${JSON.stringify(pair[0])} and ${JSON.stringify(pair[1])} build the same network`);
    }
  }
});

const WIDTH = 13;
const id = (s: string): string => createHash('sha256').update(s).digest('hex');

test('the trainer builds ds2 with the configured widths and layers, and trains it with Adam by default', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    for (let seed = 0; seed < 16; seed++) {
      const word = seed % 2 === 0 ? 'yes' : 'no';
      const frames = 16 + (seed % 9);
      const r = rng(seed);
      const features = Float32Array.from({ length: frames * WIDTH }, (_, i) => (i % WIDTH === 0 ? (word === 'yes' ? 1 : -1) : 0) + (r() - 0.5));
      store.addSample(id(`u${seed}`), { modality: 'audio', features, shape: [frames, WIDTH] }, { label: word }, `${word}/u${seed}.wav`);
    }
    const options = { filters: [2, 3, 2], hidden: 5, gateHidden: 4, rnnLayers: 2, kernelTime: 3, kernelFreq: 3 };
    const config = speech({
      stateDir,
      model: { audio: { coefficients: WIDTH, deltas: false }, options },
      backend: { name: 'cpu' },
      algorithm: { newDataEpochs: 1, allDataEpochs: 1, growthInterval: 1, batchSize: 8 },
    });
    const model = modelChoice(config);
    const update = updateConfig(config, { maxPruneIterations: 1, initialDensity: 0.5, retrainEpochs: 0.5 });
    assert.deepEqual(update.optimizer, { kind: 'adam', learningRate: 0.005 });
    const job: TrainJob = { id: 'u-options', trigger: 'manual', stateDir, upToSeq: store.lastSeq(), champion: null, model, modality: 'audio', update, backend: { name: 'cpu', threads: null }, driftBins: 5 };
    const result = await noLeaks(() => trainCandidate(job));
    assert.equal(result.version, 1);

    const registry = await openRegistry(join(stateDir, 'models'));
    const { model: trained } = await loadModel((await registry.get(1)).dir);
    try {
      assert.ok(trained instanceof DeepSpeech2);
      assert.deepEqual(trained.spec.options, { filters: [2, 3, 2], hidden: 5, gateHidden: 4, rnnLayers: 2, kernelTime: 3, kernelFreq: 3 });
      assert.deepEqual(trained.convs.map((c) => [c.args.filters, ...c.args.kernel]), [[2, 3, 3], [3, 3, 3], [2, 3, 3]]);
      assert.equal(trained.rnns.length, 2);
      assert.deepEqual(trained.rnns.flat().map((c) => [c.units, c.gateHidden]), Array(4).fill([5, 4]));
      // As many parameters as ds2 built from those options, fewer than its default size.
      const reference = createModel({ ...trained.spec });
      const defaults = createModel({ ...trained.spec, options: undefined });
      try {
        assert.equal(trained.denseParams(), reference.denseParams());
        assert.ok(trained.denseParams() < defaults.denseParams() / 10, `${trained.denseParams()} vs default ${defaults.denseParams()}`);
      } finally {
        reference.dispose();
        defaults.dispose();
      }
    } finally {
      trained.dispose();
    }
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('updateConfig: SGD for image models and Adam for ds2 by default, the configured optimizer otherwise', () => {
  const image = updateConfig(parseConfig({}));
  assert.deepEqual(image.optimizer, { kind: 'sgd', learningRate: 0.01, momentum: 0.9 });
  assert.equal(image.learningRateSchedule, 'constant');
  assert.ok(Math.abs(image.pruneLearningRate - 0.001) < 1e-12, 'pruning retrains at a tenth of the constant rate');
  const cosine = updateConfig(parseConfig({ algorithm: { learningRateSchedule: 'cosine' } }));
  assert.equal(cosine.learningRateSchedule, 'cosine');
  assert.ok(Math.abs(cosine.pruneLearningRate - 0.001) < 1e-12, 'pruning retrains where the cosine schedule ends');
  const ds2 = updateConfig(speech());
  assert.deepEqual(ds2.optimizer, { kind: 'adam', learningRate: 0.005 });
  assert.equal(ds2.pruneLearningRate, 0.001, 'a fifth of the rate, as experiments/fsdd.ts');
  assert.equal(ds2.learningRateSchedule, 'constant');
  const annealed = updateConfig(speech({ algorithm: { learningRateSchedule: 'cosine' } }));
  assert.ok(Math.abs(annealed.pruneLearningRate - 0.0005) < 1e-12 && annealed.learningRateSchedule === 'cosine');
  assert.throws(() => parseConfig({ algorithm: { learningRateSchedule: 'linear' } }), (e: unknown) => (e as { code?: string }).code === 'BONSAI_CONFIG_INVALID');
  // The architecture that will be trained decides, also when a program overrides model.name.
  assert.equal(updateConfig(parseConfig({}), {}, 'ds2').optimizer.kind, 'adam');
  // Explicit choices win over the defaults, in both directions.
  assert.deepEqual(updateConfig(speech({ algorithm: { optimizer: 'sgd' } })).optimizer, { kind: 'sgd', learningRate: 0.01, momentum: 0.9 });
  assert.deepEqual(updateConfig(speech({ algorithm: { optimizer: 'sgd', learningRate: 0.02, momentum: 0.5 } })).optimizer, { kind: 'sgd', learningRate: 0.02, momentum: 0.5 });
  const adam = updateConfig(parseConfig({ algorithm: { optimizer: 'adam', learningRate: 0.002 } }));
  assert.deepEqual(adam.optimizer, { kind: 'adam', learningRate: 0.002 });
  assert.ok(Math.abs(adam.pruneLearningRate - 0.0004) < 1e-12, String(adam.pruneLearningRate));
  assert.deepEqual(updateConfig(speech({ algorithm: { learningRate: 0.001 } })).optimizer, { kind: 'adam', learningRate: 0.001 });
  // Programmatic overrides still win.
  assert.deepEqual(updateConfig(speech(), { optimizer: { kind: 'sgd', learningRate: 0.1 } }).optimizer, { kind: 'sgd', learningRate: 0.1 });
});

test('a daemon trains the image model at the widths of model.options with the configured optimizer', async () => {
  const stateDir = tempStateDir();
  const jobs: TrainJob[] = [];
  const d = await startDaemon(testConfig(stateDir, { model: { options: { hidden: [12] } }, algorithm: { optimizer: 'adam', learningRate: 0.01 } }), {
    update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false,
    startTrainer: (options: TrainerOptions) => {
      jobs.push(options.job);
      return startTrainer(options);
    },
  });
  try {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('the first update', () => d.updater.records().length >= 1 && !d.scheduler.busy, 45_000);
    assert.equal(jobs.length, 1);
    assert.deepEqual(jobs[0].model, { arch: 'lenet300', inputShape: [8, 8, 1], options: { hidden: [12] } });
    assert.deepEqual(jobs[0].update.optimizer, { kind: 'adam', learningRate: 0.01 });
    assert.equal(d.updater.last()?.outcome, 'promoted', d.updater.last()?.verdict);
    const { model } = await loadModel((await d.registry.get(1)).dir);
    try {
      assert.deepEqual(model.layerCounts().map((l) => [l.layer, l.total]), [['fc1', 64 * 12 + 12], ['fc2', 12 * 4 + 4]]);
    } finally {
      model.dispose();
    }
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('updateConfig: algorithm.referenceDraws reaches the update settings (default 1); out of range is a config error', () => {
  assert.equal(updateConfig(parseConfig({})).referenceDraws, 1);
  assert.equal(updateConfig(parseConfig({ algorithm: { referenceDraws: 2 } })).referenceDraws, 2);
  for (const bad of [0, 5, 1.5]) {
    assert.throws(() => parseConfig({ algorithm: { referenceDraws: bad } }), (e: unknown) => (e as { code?: string }).code === 'BONSAI_CONFIG_INVALID', String(bad));
  }
});
