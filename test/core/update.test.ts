import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { runUpdate, type StrategyState } from '../../core/update/strategies.ts';
import { paperUpdateConfig, type UpdateConfig } from '../../core/update/config.ts';
import { classificationTask } from '../../core/train/task.ts';
import { concat, subset } from '../../core/data/dataset.ts';
import { blobs } from '../helpers/synthetic.ts';
import { noLeaks } from '../helpers/tensors.ts';

const config: UpdateConfig = {
  ...paperUpdateConfig, newDataEpochs: 3, allDataEpochs: 2, trainEpochs: 6, growthInterval: 2,
  augment: false, batchSize: 32, retrainEpochs: 1, maxPruneIterations: 30, pruneFraction: 0.1,
};
const spec = { arch: 'mlp', inputShape: [12], numClasses: 4, options: { hidden: '32,16' } };

test('ours, TFS and NFT run an update each, leak-free, with the cost of each phase accounted', async () => {
  const first = blobs(300, 12, 4, 1);
  const fresh = blobs(100, 12, 4, 2);
  const all = concat(first, fresh);
  const validation = blobs(300, 12, 4, 3);
  await noLeaks(() => {
    const task = classificationTask();
    const results: Record<string, { sampleEpochs: number; params: number; error: number; phases: string[] }> = {};
    for (const strategy of ['ours', 'tfs', 'nft'] as const) {
      const cfg = { ...config, trainEpochs: 10 };
      const r1 = runUpdate({ strategy, previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 4 }, config: cfg });
      const r2 = runUpdate({ strategy, previous: r1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: 4 }, config: cfg });
      // Training cost before pruning (how far pruning goes depends on each model, not on the strategy).
      const training = Object.entries(r2.cost.phases).filter(([p]) => !p.startsWith('prune')).reduce((n, [, c]) => n + c.sampleEpochs, 0);
      results[strategy] = { sampleEpochs: training, params: r2.state.model.liveParams(), error: r2.validationError, phases: Object.keys(r2.cost.phases) };
      // Pruning keeps the measured loss within its decision's margin (one paired standard error, at most half a point).
      const margin = (r2.prune.lastAccepted?.margin ?? 0) / validation.n;
      assert.ok(r2.validationError <= r2.prePruneError + margin + 1e-9, `${strategy}: pruning lost ${r2.validationError - r2.prePruneError} (margin ${margin})`);
      assert.ok(r2.validationError <= r2.prePruneError + 0.005 + 1e-9, `${strategy}: pruning lost more than half a point`);
      assert.ok(Math.abs(r2.cost.epochs - r2.cost.sampleEpochs / all.n) < 1e-9);
      if (strategy === 'nft') assert.ok(r2.state.dense && r2.state.dense.density() === 1, 'NFT keeps a dense model');
      if (strategy === 'ours') {
        // Ours' first pruning step takes every kernel straight back to its parent's size: it removes what growth added.
        const grown = r2.growth.reduce((n, g) => n + g.total, 0);
        assert.ok(grown > 0, 'nothing grew');
        assert.ok(Math.abs(r2.prune.iterations[0].pruned - grown) <= r2.state.model.kernels.length, `first step pruned ${r2.prune.iterations[0].pruned}, growth added ${grown}`);
      }
      r2.state.model.dispose();
      r2.state.dense?.dispose();
    }
    // New data first: E1 epochs on the new data plus growth evaluations, then E2 on all data: less training than 10 epochs of all data.
    const phases = results.ours.phases;
    assert.ok(phases.includes('growth-new') && phases.includes('growth-all') && phases.includes('prune'));
    assert.ok(results.tfs.phases.includes('train'));
    assert.ok(results.ours.sampleEpochs < results.tfs.sampleEpochs, `ours ${results.ours.sampleEpochs} vs TFS ${results.tfs.sampleEpochs}`);
    assert.ok(results.ours.sampleEpochs < results.nft.sampleEpochs, `ours ${results.ours.sampleEpochs} vs NFT ${results.nft.sampleEpochs}`);
  });
});

test('growth on new data counts E1 epochs of the new data, growth evaluations included', async () => {
  const first = blobs(200, 12, 4, 4);
  const fresh = blobs(40, 12, 4, 5);
  const all = concat(first, fresh);
  const validation = blobs(100, 12, 4, 6);
  await noLeaks(() => {
    const task = classificationTask();
    const noPrune = { ...config, maxPruneIterations: 0 };
    const r1 = runUpdate({ strategy: 'ours', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 4 }, config: noPrune });
    const r2 = runUpdate({ strategy: 'ours', previous: r1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: 4 }, config: noPrune });
    // E1 = 3 epochs with growth at epochs 0 and 2: 5 passes over 40 samples; E2 = 2 epochs, growth at 0: 3 passes over 240.
    assert.equal(r2.cost.phases['growth-new'].sampleEpochs, 5 * 40);
    assert.equal(r2.cost.phases['growth-all'].sampleEpochs, 3 * 240);
    assert.equal(r2.growth.length, 3);
    r2.state.model.dispose();
  });
});

test('a class never seen before grows an output unit whose connections are grown by gradient', async () => {
  const old = blobs(300, 12, 3, 7);
  const withNew = blobs(400, 12, 4, 8);
  const newClass = subset(withNew, [...withNew.y.keys()].filter((i) => withNew.y[i] === 3));
  const validation = blobs(200, 12, 4, 9);
  await noLeaks(() => {
    const task = classificationTask();
    let state: StrategyState;
    const r1 = runUpdate({ strategy: 'ours', previous: null, spec: { ...spec, numClasses: 3 }, task, data: { newData: old, allData: old, validation: subset(validation, [...validation.y.keys()].filter((i) => validation.y[i] < 3)), numClasses: 3 }, config });
    state = r1.state;
    assert.equal(state.model.numClasses, 3);
    const r2 = runUpdate({ strategy: 'ours', previous: state, spec: { ...spec, numClasses: 3 }, task, data: { newData: newClass, allData: concat(old, newClass), validation, numClasses: 4 }, config });
    state = r2.state;
    assert.equal(state.model.numClasses, 4);
    const head = state.model.head.kernel;
    const liveInto = tf.tidy(() => head.mask.slice([0, 3], [head.shape[0], 1]).sum().dataSync()[0]);
    assert.ok(liveInto > 0, 'no connection into the new class unit was grown');
    // The new class is learnt.
    const newVal = subset(validation, [...validation.y.keys()].filter((i) => validation.y[i] === 3));
    assert.ok(task.errorRate(state.model, newVal, 64) < 0.5);
    state.model.dispose();
  });
});

test('the cosine learning-rate schedule anneals from the base rate to the floor; constant keeps it', async () => {
  const { scheduledRate } = await import('../../core/update/strategies.ts');
  const cosine = { learningRateSchedule: 'cosine' as const, minLearningRateFactor: 0.1 };
  assert.equal(scheduledRate(0.05, 0, 5, cosine), 0.05);
  assert.ok(Math.abs(scheduledRate(0.05, 4, 5, cosine) - 0.005) < 1e-12);
  assert.ok(Math.abs(scheduledRate(0.05, 2, 5, cosine) - 0.0275) < 1e-12); // halfway: (0.05 + 0.005) / 2
  assert.equal(scheduledRate(0.05, 3, 5, { ...cosine, learningRateSchedule: 'constant' }), 0.05);
});

test("an update's E1 and E2 epochs anneal as one cosine span; NFT's training anneals over its own epochs", async () => {
  const first = blobs(120, 12, 4, 7);
  const fresh = blobs(40, 12, 4, 8);
  const all = concat(first, fresh);
  const validation = blobs(60, 12, 4, 9);
  const { scheduledRate } = await import('../../core/update/strategies.ts');
  await noLeaks(() => {
    const task = classificationTask();
    const cfg: UpdateConfig = { ...config, maxPruneIterations: 0, learningRateSchedule: 'cosine', minLearningRateFactor: 0.1, newDataEpochs: 2, allDataEpochs: 3, trainEpochs: 4 };
    const rates = (events: { phase: string; rate: number }[]) => (e: { kind: string; phase: string; learningRate?: number }) => {
      if (e.kind === 'epoch' && e.learningRate !== undefined) events.push({ phase: e.phase, rate: e.learningRate });
    };
    const ours: { phase: string; rate: number }[] = [];
    const r1 = runUpdate({ strategy: 'ours', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 4 }, config: cfg });
    const r2 = runUpdate({
      strategy: 'ours', previous: r1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: 4 }, config: cfg,
      hooks: { onProgress: rates(ours) },
    });
    assert.deepEqual(ours.map((e) => e.phase), ['growth-new', 'growth-new', 'growth-all', 'growth-all', 'growth-all']);
    ours.forEach((e, i) => assert.ok(Math.abs(e.rate - scheduledRate(0.05, i, 5, cfg)) < 1e-12, `epoch ${i}: ${e.rate}`));
    assert.ok(Math.abs(ours[4].rate - 0.005) < 1e-12, 'the last epoch of E2 ends at the floor');
    r2.state.model.dispose();

    const nft: { phase: string; rate: number }[] = [];
    const n1 = runUpdate({ strategy: 'nft', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 4 }, config: cfg });
    const n2 = runUpdate({
      strategy: 'nft', previous: n1.state, spec, task, data: { newData: fresh, allData: all, validation, numClasses: 4 },
      config: cfg, hooks: { onProgress: rates(nft) },
    });
    assert.equal(nft.length, 4);
    nft.forEach((e, i) => assert.ok(Math.abs(e.rate - scheduledRate(0.05, i, 4, cfg)) < 1e-12, `NFT epoch ${i}: ${e.rate}`));
    assert.ok(Math.abs(nft[3].rate - 0.005) < 1e-12);
    n2.state.model.dispose();
    n2.state.dense?.dispose();
  });
});

test('the reference is retrained for one iteration budget without pruning before pruning measures it, and counted as pruning', async () => {
  const first = blobs(200, 12, 4, 21);
  const validation = blobs(100, 12, 4, 22);
  await noLeaks(() => {
    const task = classificationTask();
    const run = (retrainReference: boolean, beforePrune?: (m: import('../../core/models/model.ts').MaskedModel) => void) => runUpdate({
      strategy: 'tfs', previous: null, spec, task, beforePrune, data: { newData: first, allData: first, validation, numClasses: 4 },
      config: { ...config, maxPruneIterations: 0, retrainEpochs: 0.5, retrainReference, referenceDraws: 1 },
    });
    let seen: number[] = [];
    const on = run(true, (m) => { seen = Array.from(m.kernels[0].value.dataSync()); });
    const off = run(false);
    // Without pruning iterations, pruning's whole cost is the reference's retraining: half an epoch
    // of all data (100 samples), in whole batches of 32.
    assert.equal(on.cost.phases.prune.sampleEpochs, 128);
    assert.equal(off.cost.phases.prune?.sampleEpochs ?? 0, 0);
    // The model measured before pruning (and handed to beforePrune) is the retrained one, not the trained one.
    const trained = Array.from(off.state.model.kernels[0].value.dataSync());
    assert.notDeepEqual(seen, trained);
    assert.deepEqual(Array.from(on.state.model.kernels[0].value.dataSync()), seen);
    // Two draws: the retraining is drawn once more from the trained model and undone; the reference is the mean of
    // both draws' per-sample errors (a multiple of half an error); the model pruning starts from is the one-draw one.
    const two = runUpdate({
      strategy: 'tfs', previous: null, spec, task, data: { newData: first, allData: first, validation, numClasses: 4 },
      config: { ...config, maxPruneIterations: 0, retrainEpochs: 0.5, retrainReference: true, referenceDraws: 2 },
    });
    assert.equal(two.cost.phases.prune.sampleEpochs, 256);
    assert.equal(two.cost.phases.prune.evalSamples, 2 * validation.n);
    // The extra draw reaches pruning's reference (a mean of two draws is a multiple of half an error).
    assert.equal(two.prune.referenceDraws, 2);
    assert.equal(on.prune.referenceDraws, 1);
    const halves = two.prePruneError * 2 * validation.n;
    assert.ok(Math.abs(halves - Math.round(halves)) < 1e-6, `reference error ${two.prePruneError} is not a mean of two draws`);
    assert.deepEqual(Array.from(two.state.model.kernels[0].value.dataSync()), seen);
    two.state.model.dispose();
    on.state.model.dispose();
    off.state.model.dispose();
  });
});
