/** The promotion gate: the decision rule, and the error rate it compares, against a hand computation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { makeDataset } from '../../core/data/dataset.ts';
import { createModel } from '../../core/models/index.ts';
import { decide, validationError } from '../../daemon/trainer/gate.ts';
import { noLeaks } from '../helpers/tensors.ts';

test('promote iff the candidate\'s error <= the champion\'s + tolerance; the reason gives the numbers', () => {
  const base = { candidateVersion: 8, championVersion: 7, tolerance: 0, samples: 200 };
  assert.deepEqual(decide({ ...base, candidateError: 0.04, championError: 0.05 }),
    { promote: true, reason: 'validation error 4.00% <= champion 7\'s 5.00% on 200 validation samples' });
  // Equal is good enough (no worse).
  assert.equal(decide({ ...base, candidateError: 0.05, championError: 0.05 }).promote, true);
  // Errors are ratios of counts: 3/60 and 0.05 must compare equal despite float rounding.
  assert.equal(decide({ ...base, candidateError: 3 / 60, championError: 0.1 / 2 }).promote, true);
  assert.deepEqual(decide({ ...base, candidateError: 0.055, championError: 0.05 }),
    { promote: false, reason: 'validation error 5.50% > champion 7\'s 5.00% on 200 validation samples' });
  // The tolerance lets a slightly worse (e.g. much smaller) model through.
  const tolerated = decide({ ...base, candidateError: 0.055, championError: 0.05, tolerance: 0.01 });
  assert.equal(tolerated.promote, true);
  assert.match(tolerated.reason, /\+ tolerance 1\.00%/);
  assert.equal(decide({ ...base, candidateError: 0.07, championError: 0.05, tolerance: 0.01 }).promote, false);
  // The first model has nothing to be compared with.
  assert.deepEqual(decide({ ...base, championVersion: null, championError: null, candidateError: 0.3 }),
    { promote: true, reason: 'first model: validation error 30.00% on 200 validation samples' });
});

test('validationError is the fraction of samples whose argmax class is not the label', async () => {
  await initBackend({ force: 'cpu' });
  await noLeaks(() => {
    const model = createModel({ arch: 'mlp', inputShape: [3], numClasses: 3, options: { hidden: '4' }, seed: 5 });
    try {
      const n = 50;
      const x = Float32Array.from({ length: n * 3 }, (_, i) => Math.sin(i * 1.7) * 2);
      const predicted = tf.tidy(() => model.predict(tf.tensor2d(x, [n, 3])).argMax(1).dataSync() as Int32Array);
      // Labels: right for the first 30 samples, wrong for the other 20 -> error 0.4.
      const y = Int32Array.from(predicted, (p, i) => (i < 30 ? p : (p + 1) % 3));
      assert.equal(validationError(model, makeDataset(x, y, [3]), 7), 0.4);
      assert.equal(validationError(model, makeDataset(new Float32Array(0), new Int32Array(0), [3])), 0);
    } finally {
      model.dispose();
    }
  });
});

test('with per-sample evidence the gate takes the paired decision: the same rule as pruning, with its counts in the reason', () => {
  const base = { candidateVersion: 8, championVersion: 7, tolerance: 0, samples: 1000, candidateError: 0.06, championError: 0.05, margin: 0.5 };
  // 10 more errors over 40 disagreements (25 worse, 15 better): excess 10 > 0.5 * sqrt(40) + 1 (continuity) = 4.2.
  const loss = { samples: 1000, units: 1000, worse: 25, better: 15, excess: 10, variance: 40, referenceErrors: 50, candidateErrors: 60 };
  const rejected = decide({ ...base, evidence: loss });
  assert.equal(rejected.promote, false);
  assert.match(rejected.reason, /worse on 25, better on 15 of 1000 validation samples: excess 10 > margin 4\.2/);
  // 2 more errors over 40 disagreements: within half a standard error plus the correction (4.2): no measurable loss.
  const noise = { ...loss, worse: 21, better: 19, excess: 2, candidateErrors: 52 };
  assert.equal(decide({ ...base, candidateError: 0.052, evidence: noise }).promote, true);
  // A stated tolerance of one point (10 samples) lets the first candidate through.
  assert.equal(decide({ ...base, tolerance: 0.01, evidence: loss }).promote, true);
});
