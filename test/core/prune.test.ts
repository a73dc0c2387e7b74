import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globalFractions, pruneMask } from '../../core/prune/magnitude.ts';
import { iterativePrune, meanErrors, pruneStep } from '../../core/prune/iterative.ts';
import { createModel } from '../../core/models/index.ts';
import { Trainer } from '../../core/train/trainer.ts';
import { classificationTask } from '../../core/train/task.ts';
import { blobs } from '../helpers/synthetic.ts';
import { noLeaks } from '../helpers/tensors.ts';
import * as tf from '../../core/tf.ts';
import type { Dataset } from '../../core/data/dataset.ts';
import type { MaskedModel } from '../../core/models/model.ts';

test('magnitude pruning removes the beta smallest live connections', () => {
  const values = [0.5, -0.1, 0.3, 0.05, -0.9, 0.2, 0.7, -0.4, 0.6, 0.8];
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0];
  // 9 live, fraction 0.34 -> floor(3.06) = 3 removed: 0.05, -0.1, 0.2.
  const d = pruneMask({ values, mask, shape: [10], outAxis: 0, inAxis: 0, fraction: 0.34, recoverable: false, sendersAreNeurons: false });
  assert.deepEqual([...d.pruned].sort((a, b) => a - b), [1, 3, 5]);
  assert.deepEqual([...d.mask], [1, 0, 1, 0, 1, 0, 1, 1, 1, 0]);
});

test('recoverable pruning keeps the last input of every unit and the last output of every neuron', () => {
  // Dense kernel [in=3, out=3]. Column 2 (unit 2) has one live input (tiny); row 1 (neuron 1) has one live output (tiny).
  const values = [
    0.9, 0.8, 0.0,
    0.01, 0.0, 0.0,
    0.7, 0.6, 0.02,
  ];
  const mask = [1, 1, 0, 1, 0, 0, 1, 1, 1];
  const d = pruneMask({ values, mask, shape: [3, 3], outAxis: 1, inAxis: 0, fraction: 0.5, recoverable: true, sendersAreNeurons: true });
  // 6 live -> 3 to prune, smallest first: 0.01 (row 1's last output: kept), 0.02 (unit 2's last
  // input: kept), 0.6 (pruned), 0.7 (pruned), 0.8 (now unit 1's last input: kept), 0.9 (pruned).
  assert.deepEqual([...d.pruned].sort((a, b) => a - b), [0, 6, 7]);
  assert.equal(d.mask[3], 1);
  assert.equal(d.mask[8], 1);
  // Every unit still has an input and every neuron an output.
  for (let j = 0; j < 3; j++) assert.ok([0, 1, 2].some((i) => d.mask[i * 3 + j] === 1), `unit ${j} lost its inputs`);
  for (let i = 0; i < 3; i++) assert.ok([0, 1, 2].some((j) => d.mask[i * 3 + j] === 1), `neuron ${i} lost its outputs`);
  // Non-recoverable pruning removes the smallest regardless.
  const n = pruneMask({ values, mask, shape: [3, 3], outAxis: 1, inAxis: 0, fraction: 0.5, recoverable: false, sendersAreNeurons: true });
  assert.deepEqual([...n.pruned].sort((a, b) => a - b), [3, 7, 8]);
  // First-layer senders (inputs) may lose all their outputs even when recoverable.
  const first = pruneMask({ values, mask, shape: [3, 3], outAxis: 1, inAxis: 0, fraction: 0.5, recoverable: true, sendersAreNeurons: false });
  assert.ok(first.pruned.includes(3));
});

test('recoverable pruning on conv kernels protects filters (axis 3) and input channels (axis 2)', () => {
  // Kernel [1,1,2,2]: entries (cin,cout): (0,0)=0.01 (0,1)=0.5 (1,0)=0.6 (1,1)=0.02.
  const values = [0.01, 0.5, 0.6, 0.02];
  const d = pruneMask({ values, mask: [1, 1, 1, 1], shape: [1, 1, 2, 2], outAxis: 3, inAxis: 2, fraction: 0.5, recoverable: true, sendersAreNeurons: true });
  assert.equal(d.pruned.length, 2);
  for (let co = 0; co < 2; co++) assert.ok(d.mask[co] + d.mask[2 + co] >= 1);
  for (let ci = 0; ci < 2; ci++) assert.ok(d.mask[ci * 2] + d.mask[ci * 2 + 1] >= 1);
});

test('a global step removes the smallest connections of all tensors by one threshold; ties go in order; dead entries do not count', () => {
  // Eight live connections (one masked out in each tensor): a 25 % step removes the two smallest overall, 0.01 and 0.02, both in b.
  const a = { values: [0.5, 0.3, 0.9, 0.0], mask: [1, 1, 1, 0] };
  const b = { values: [0.02, 0.01, 0.4, 0.7, 0.6, 0.0], mask: [1, 1, 1, 1, 1, 0] };
  const f = globalFractions([a, b], 0.25);
  const removed = (t: typeof a, fraction: number) => pruneMask({ ...t, shape: [t.values.length], outAxis: 0, inAxis: 0, fraction, recoverable: false, sendersAreNeurons: false }).pruned.length;
  assert.deepEqual([removed(a, f[0]), removed(b, f[1])], [0, 2]);
  // Half of them: 0.01, 0.02, 0.3, 0.4.
  const half = globalFractions([a, b], 0.5);
  assert.deepEqual([removed(a, half[0]), removed(b, half[1])], [1, 3]);
  // Ties at the threshold: two of the three 0.1s are needed, taken from the first tensor first.
  const tied = globalFractions([{ values: [0.1, 0.5], mask: [1, 1] }, { values: [0.1, 0.1, 0.9], mask: [1, 1, 1] }], 0.4);
  assert.deepEqual([Math.floor(2 * tied[0]), Math.floor(3 * tied[1])], [1, 1]);
  assert.deepEqual(globalFractions([a, b], 0.01), [0, 0]);
});

test('pruneStep with a global scope prunes the layer of small weights and spares the one of large weights; layer scope takes the same share of each', async () => {
  await noLeaks(() => {
    const model = createModel({ arch: 'mlp', inputShape: [10], numClasses: 4, options: { hidden: '24' }, seed: 3 });
    const trainer = new Trainer({ model, task: classificationTask(), batchSize: 32, seed: 2, optimizer: { kind: 'sgd', learningRate: 0.05 } });
    // The second kernel's weights moved to 1 + |w|: by one threshold, the first kernel's (initial scale 1/sqrt(10)) are all smaller.
    const [k0, k1] = model.kernels;
    const shifted = tf.tidy(() => k1.value.abs().add(1));
    k1.value.assign(shifted);
    shifted.dispose();
    const before = liveConnections(model);
    const removed = pruneStep(trainer, 0.2, false, 'global');
    const after = liveConnections(model);
    assert.equal(removed, Math.floor(0.2 * (before[0] + before[1])));
    assert.equal(after[1], before[1], 'the large-weight kernel lost connections');
    assert.equal(before[0] - after[0], removed);
    assert.equal(k0.shape[0] * k0.shape[1], before[0]);
    const layer = pruneStep(trainer, 0.1, false, 'layer');
    const last = liveConnections(model);
    assert.deepEqual([after[0] - last[0], after[1] - last[1]], [Math.floor(0.1 * after[0]), Math.floor(0.1 * after[1])]);
    assert.equal(layer, after[0] - last[0] + after[1] - last[1]);
    trainer.dispose();
    model.dispose();
  });
});

const RULE = { z: 0.5, tolerance: 0 };

/** A 10-24-4 MLP trained 8 epochs on `train` (the starting point of every iterative-pruning test). */
function trainedMlp(train: Dataset, seed: number): { model: MaskedModel; trainer: Trainer<Dataset> } {
  const model = createModel({ arch: 'mlp', inputShape: [10], numClasses: 4, options: { hidden: '24' }, seed });
  const trainer = new Trainer({ model, task: classificationTask(), batchSize: 32, seed: 2, optimizer: { kind: 'sgd', learningRate: 0.05 } });
  for (let e = 0; e < 8; e++) trainer.trainEpoch(train, 'train', e);
  return { model, trainer };
}

/** A rule every candidate passes, and one none passes (a negative margin). */
const ACCEPT_ALL = { z: 1e6, tolerance: 0 };
const REJECT_ALL = { z: 0, tolerance: -1 };

/** `args` with decisions scripted by call: the n-th decision accepts iff `decisions[n]` (later ones reject). */
function scripted<T extends object>(args: T, decisions: boolean[]): T & { readonly rule: typeof ACCEPT_ALL } {
  let calls = 0;
  return Object.defineProperty(args, 'rule', { get: () => (decisions[calls++] ? ACCEPT_ALL : REJECT_ALL) }) as T & { readonly rule: typeof ACCEPT_ALL };
}

/** Live kernel connections per kernel, counted from the masks. */
function liveConnections(model: MaskedModel): number[] {
  return model.kernels.map((k) => Array.from(k.mask.dataSync()).reduce((a, b) => a + b, 0));
}

test('iterative pruning takes one decision per iteration against the pre-pruning model and keeps the neuron condition', async () => {
  const train = blobs(256, 10, 4, 1);
  const val = blobs(400, 10, 4, 2);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 1);
    const dense = model.liveParams();
    const before = trainer.cost.summary(train.n).evalSamples;
    const report = iterativePrune(trainer, train, val, { pruneFraction: 0.2, recoverable: true, rule: RULE, retrainEpochs: 0.5, retries: 2, maxIterations: 60, phase: 'prune' });
    assert.ok(report.iterations.length > 1);
    assert.ok(model.liveParams() < dense, 'nothing was pruned');
    // One validation pass for the baseline and exactly one per iteration (never the best of several).
    assert.equal(trainer.cost.summary(train.n).evalSamples - before, val.n * (1 + report.iterations.length));
    // Each iteration retrains for the fixed budget.
    for (const it of report.iterations) assert.ok(Math.abs(it.retrainedSamples - 0.5 * train.n) <= 1);
    // Accepted iterations are within the margin; the served error is the last accepted one's.
    for (const it of report.iterations.filter((i) => i.accepted)) assert.ok(it.excess <= it.margin + 1e-9);
    assert.equal(trainer.errorRate(val, 'check'), report.finalError);
    assert.ok(report.finalError <= report.baselineError + (report.lastAccepted?.margin ?? 0) / val.n + 1e-9);
    // The neuron condition holds in every kernel.
    for (const k of model.kernels) {
      const m = k.mask.arraySync() as number[][];
      for (let j = 0; j < k.shape[1]; j++) assert.ok(m.some((row) => row[j] === 1), `${k.name}: unit ${j} has no input`);
      if (k.sendersAreNeurons) for (const row of m) assert.ok(row.some((v) => v === 1), `${k.name}: a neuron has no output`);
    }
    trainer.dispose();
    model.dispose();
  });
});

test('a failed iteration is undone and retried with half the fraction; consecutive failures stop pruning', async () => {
  const train = blobs(256, 10, 4, 5);
  const val = blobs(400, 10, 4, 6);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 3);
    // A rule no change can pass (a negative margin) makes every iteration fail: each is undone,
    // the fraction halves, and the third failure in a row (retries = 2) stops pruning.
    const masks = model.kernels.map((k) => Array.from(k.mask.dataSync()));
    const values = model.kernels.map((k) => Array.from(k.value.dataSync()));
    const report = iterativePrune(trainer, train, val, { pruneFraction: 0.4, recoverable: true, rule: REJECT_ALL, retrainEpochs: 0.25, retries: 2, maxIterations: 60, phase: 'prune' });
    assert.equal(report.stop, 'failures');
    assert.deepEqual(report.iterations.map((i) => i.fraction), [0.4, 0.2, 0.1]);
    assert.ok(report.iterations.every((i) => !i.accepted && i.pruned > 0));
    assert.equal(report.finalError, report.baselineError);
    assert.equal(report.lastAccepted, null);
    model.kernels.forEach((k, i) => {
      assert.deepEqual(Array.from(k.mask.dataSync()), masks[i], `${k.name}: mask not restored`);
      assert.deepEqual(Array.from(k.value.dataSync()), values[i], `${k.name}: weights not restored`);
    });
    // A success after a failure resets the failure count and doubles the fraction back up to beta.
    const flaky = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.4, recoverable: true, retrainEpochs: 0.25, retries: 1, maxIterations: 4, phase: 'prune',
    }, [false, true, true, true]));
    assert.deepEqual(flaky.iterations.map((i) => [i.fraction, i.accepted]), [[0.4, false], [0.2, true], [0.4, true], [0.4, true]]);
    assert.equal(flaky.stop, 'max-iterations');
    trainer.dispose();
    model.dispose();
  });
});

test('the step doubles on success up to maxFraction and a rejection caps it at half the rejected step', async () => {
  const train = blobs(256, 10, 4, 9);
  const val = blobs(400, 10, 4, 10);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 5);
    // Decisions scripted by call: accept, accept, accept, reject (at 0.4), accept, accept, reject, reject.
    const report = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.05, maxFraction: 0.4, recoverable: true, retrainEpochs: 0.1, retries: 1, maxIterations: 20, phase: 'prune',
    }, [true, true, true, false, true, true, false, false]));
    assert.deepEqual(report.iterations.map((i) => [i.fraction, i.accepted]), [
      [0.05, true], [0.1, true], [0.2, true], [0.4, false],
      // After the rejection at 0.4 the step is 0.2 and never grows past it again.
      [0.2, true], [0.2, true], [0.2, false], [0.1, false],
    ]);
    assert.equal(report.stop, 'failures');
    // Each accepted iteration removed its fraction of the live connections (up to per-kernel rounding
    // and the neuron condition, which keeps a unit's last connection).
    let live = model.kernels.reduce((s, k) => s + k.shape.reduce((a, b) => a * b, 1), 0);
    for (const it of report.iterations) {
      assert.ok(it.pruned <= it.fraction * live + model.kernels.length && it.pruned >= 0.5 * it.fraction * live, `${it.pruned} of ${live} at ${it.fraction}`);
      if (it.accepted) live -= it.pruned;
    }
    assert.equal(liveConnections(model).reduce((a, b) => a + b), live);
    // A failure that would take the step below a quarter of beta stops pruning, retries left or not.
    const floor = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.05, recoverable: true, retrainEpochs: 0.1, retries: 5, maxIterations: 20, phase: 'prune',
    }, [false, true, false, false, false]));
    assert.deepEqual(floor.iterations.map((i) => [i.fraction, i.accepted]), [[0.05, false], [0.025, true], [0.05, false], [0.025, false], [0.0125, false]]);
    assert.equal(floor.stop, 'failures');
    // Without maxFraction the step stays at beta (the paper's fixed step).
    const fixed = iterativePrune(trainer, train, val, {
      pruneFraction: 0.05, recoverable: true, retrainEpochs: 0.1, retries: 0, maxIterations: 3, phase: 'prune', rule: ACCEPT_ALL,
    });
    assert.deepEqual(fixed.iterations.map((i) => i.fraction), [0.05, 0.05, 0.05]);
    trainer.dispose();
    model.dispose();
  });
});

test('a validation set too small to resolve the loss at the measured error prunes conservatively: half the fraction, fixed, the margin capped', async () => {
  const train = blobs(256, 10, 4, 13);
  const val = blobs(400, 10, 4, 14);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 7);
    // A tolerance of the whole set accepts every candidate; z = 1 sets the adequacy judgement.
    const rule = { z: 1, tolerance: 1, maxLoss: 0.05 };
    const args = { pruneFraction: 0.1, maxFraction: 0.4, recoverable: true, rule, retrainEpochs: 0.1, retries: 0, maxIterations: 3, phase: 'prune' as const };
    // Resolving 10 points needs the floor of 100 samples: 400 are adequate, and the step doubles as configured.
    const coarse = iterativePrune(trainer, train, val, { ...args, resolution: 0.1 });
    assert.deepEqual(coarse.adequacy, { samples: 400, error: coarse.baselineError, adequate: true, minSamples: 100 });
    assert.deepEqual(coarse.iterations.map((i) => i.fraction), [0.1, 0.2, 0.4]);
    // Resolving a tenth of a point at the measured error (at least 1 %) needs 10,000: half the fraction, as a
    // fixed step, and the noise margin capped at half the resolution (0.0005 x 400 = 0.2 errors above the tolerance).
    const fine = iterativePrune(trainer, train, val, { ...args, resolution: 0.001 });
    assert.equal(fine.adequacy?.adequate, false);
    assert.equal(fine.adequacy?.error, fine.baselineError);
    assert.equal(fine.adequacy?.minSamples, Math.ceil(Math.max(fine.baselineError, 0.01) / 1e-6));
    assert.deepEqual(fine.iterations.map((i) => i.fraction), [0.05, 0.05, 0.05]);
    for (const it of fine.iterations) assert.ok(it.margin <= 400 + 0.2 + 1e-9, `margin ${it.margin}`);
    // Without a resolution nothing is judged.
    assert.equal(iterativePrune(trainer, train, val, { ...args, maxIterations: 1 }).adequacy, undefined);
    trainer.dispose();
    model.dispose();
  });
});

/** A trained two-kernel MLP for the first-step tests: its data, trainer, live counts now and a reader of them; disposed after `body`. */
async function withFirstStepMlp(body: (f: { train: Dataset; val: Dataset; trainer: Trainer<Dataset>; live: () => number[]; before: number[] }) => void): Promise<void> {
  const train = blobs(256, 10, 4, 11);
  const val = blobs(400, 10, 4, 12);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 6);
    const live = () => liveConnections(model);
    try {
      body({ train, val, trainer, live, before: live() });
    } finally {
      trainer.dispose();
      model.dispose();
    }
  });
}

test('a first step of the caller\'s own prunes each kernel by its fraction, then the steps start at beta', async () => {
  await withFirstStepMlp(({ train, val, trainer, live, before }) => {
    const accepted = iterativePrune(trainer, train, val, {
      pruneFraction: 0.05, maxFraction: 0.4, firstStep: [0.5, 0], recoverable: true, retrainEpochs: 0.1, retries: 0, maxIterations: 2, phase: 'prune', rule: ACCEPT_ALL,
    });
    const [first, second] = accepted.iterations;
    assert.equal(first.pruned, Math.floor(before[0] * 0.5), 'the first kernel loses half, the second nothing');
    assert.ok(Math.abs(first.fraction - first.pruned / (before[0] + before[1])) < 1e-12);
    assert.ok(first.accepted);
    assert.equal(live().reduce((a, b) => a + b), before[0] + before[1] - first.pruned - second.pruned);
    assert.equal(second.fraction, 0.05);
  });
});

test('a rejected first step is undone and the adaptive steps take over from half of it; that rejection does not stop pruning', async () => {
  await withFirstStepMlp(({ train, val, trainer, live, before }) => {
    // The first step (half of the first kernel) is rejected; the steps go on from half of its share of all live
    // connections (above beta, below the ceiling), double after an acceptance, and a rejection stops them (retries 0).
    const report = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.05, maxFraction: 0.4, firstStep: [0.5, 0], recoverable: true, retrainEpochs: 0.1, retries: 0, maxIterations: 10, phase: 'prune',
    }, [false, true, true, false]));
    const its = report.iterations;
    assert.deepEqual(its.map((i) => i.accepted), [false, true, true, false]);
    assert.equal(its[0].pruned, Math.floor(before[0] * 0.5), 'the first step prunes half of the first kernel');
    const share = its[0].pruned / (before[0] + before[1]);
    assert.ok(share / 2 > 0.05 && share / 2 < 0.4, `the test needs half the first step between beta and the ceiling: ${share / 2}`);
    assert.ok(Math.abs(its[1].fraction - share / 2) < 1e-12, `after the rejection: ${its[1].fraction}, half of ${share}`);
    assert.ok(Math.abs(its[2].fraction - Math.min(0.4, share)) < 1e-12, 'an acceptance doubles the step');
    assert.equal(report.stop, 'failures');
    assert.equal(live().reduce((a, b) => a + b), before[0] + before[1] - its[1].pruned - its[2].pruned);
    // Half of a large rejected first step is capped at the ceiling.
    const start = live();
    const capped = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.05, maxFraction: 0.1, firstStep: [0.5, 0], recoverable: true, retrainEpochs: 0.1, retries: 0, maxIterations: 3, phase: 'prune',
    }, [false, false]));
    assert.deepEqual(capped.iterations.map((i) => i.accepted), [false, false]);
    assert.equal(capped.iterations[1].fraction, 0.1, 'half of the first step is capped at the ceiling');
    assert.deepEqual(live(), start);
    // A first step at or below beta that is rejected goes straight to beta steps.
    const small = iterativePrune(trainer, train, val, scripted({
      pruneFraction: 0.05, firstStep: [0.08, 0.08], recoverable: true, retrainEpochs: 0.1, retries: 0, maxIterations: 10, phase: 'prune',
    }, [false, false]));
    assert.deepEqual(small.iterations.map((i) => i.accepted), [false, false]);
    assert.equal(small.iterations[1].fraction, 0.05, '0.04 is below beta: the next step is beta');
  });
});

test('a known loss is rejected: pruning without retraining cannot pass a strict rule', async () => {
  const train = blobs(256, 10, 4, 7);
  const val = blobs(2000, 10, 4, 8);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 4);
    // Removing 90 % of the connections with a tiny retraining budget loses accuracy the rule sees.
    const report = iterativePrune(trainer, train, val, { pruneFraction: 0.9, recoverable: true, rule: RULE, retrainEpochs: 0.01, retries: 0, maxIterations: 1, phase: 'prune' });
    assert.equal(report.iterations.length, 1);
    const it = report.iterations[0];
    assert.ok(it.errorRate > report.baselineError + 0.02, `the 90 % cut lost only ${it.errorRate - report.baselineError}`);
    assert.equal(it.accepted, false);
    trainer.dispose();
    model.dispose();
  });
});

test('non-recoverable pruning goes below the recoverable size within its tolerance', async () => {
  const train = blobs(256, 10, 4, 3);
  const val = blobs(256, 10, 4, 4);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 1);
    const common = { pruneFraction: 0.2, retrainEpochs: 0.5, retries: 2, maxIterations: 60 };
    const rec = iterativePrune(trainer, train, val, { ...common, recoverable: true, rule: RULE, phase: 'prune' });
    const non = iterativePrune(trainer, train, val, { ...common, recoverable: false, rule: { z: 0.5, tolerance: 0.02 }, phase: 'prune-nonrecoverable' });
    assert.ok(non.liveParams <= rec.liveParams);
    for (const it of non.iterations.filter((i) => i.accepted)) assert.ok(it.excess <= 0.02 * val.n + it.margin + 1e-9);
    trainer.dispose();
    model.dispose();
  });
});

test('the reference of several draws is the mean of their per-sample errors; iterativePrune judges against it', async () => {
  const train = blobs(256, 10, 4, 1);
  const val = blobs(400, 10, 4, 2);
  await noLeaks(() => {
    const { model, trainer } = trainedMlp(train, 5);
    const own = trainer.sampleErrors(val, 'prune');
    // Another draw: a made-up set of errors that disagrees with the model's on the first 40 samples.
    const flipped = own.errors.map((e, i) => (i < 40 ? 1 - e : e));
    const other = { errors: flipped, units: own.units, rate: flipped.reduce((a, b) => a + b, 0) / own.units };
    const mean = meanErrors([own, other]);
    assert.deepEqual(Array.from(mean.errors.subarray(0, 40)), new Array(40).fill(0.5));
    assert.deepEqual(Array.from(mean.errors.subarray(40)), Array.from(own.errors.subarray(40)));
    assert.ok(Math.abs(mean.rate - (own.rate + other.rate) / 2) < 1e-12);
    assert.equal(meanErrors([own]), own);
    assert.throws(() => meanErrors([own, { ...other, errors: other.errors.subarray(1) }]), /400 and 399 samples/);
    // With no iteration allowed, pruning's reference error is the mean of the model's own and the other draw's.
    const report = iterativePrune(trainer, train, val, { pruneFraction: 0.2, recoverable: true, rule: RULE, retrainEpochs: 0.5, retries: 2, maxIterations: 0, phase: 'prune', otherDraws: [other] });
    assert.ok(Math.abs(report.baselineError - mean.rate) < 1e-12);
    assert.equal(report.referenceDraws, 2);
    // The model is unchanged by it, and the first decision of a run is against the same mean.
    const judged = iterativePrune(trainer, train, val, { pruneFraction: 0.05, recoverable: true, rule: ACCEPT_ALL, retrainEpochs: 0.25, retries: 0, maxIterations: 1, phase: 'prune', otherDraws: [other] });
    assert.ok(Math.abs((judged.lastAccepted?.referenceError ?? NaN) - mean.rate) < 1e-9);
    trainer.dispose();
    model.dispose();
  });
});
