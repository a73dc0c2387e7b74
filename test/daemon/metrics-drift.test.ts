import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import {
  PrequentialWindow,
  ServingMonitor,
  binCounts,
  binIndex,
  buildDriftReference,
  classCounts,
  driftScores,
  jensenShannonDivergence,
  populationStabilityIndex,
  quantileCuts,
  sampleSummaries,
  toProbabilities,
} from '../../daemon/metrics/index.ts';

const close = (actual: number, expected: number, tol = 1e-6): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
};
const isCode = (code: string) => (err: unknown): boolean => err instanceof BonsaiError && err.code === code;

test('quantileCuts matches type-7 (numpy default) quantiles and drops duplicate cuts', () => {
  assert.deepEqual(quantileCuts([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 2), [5.5]); // np.quantile(1..10, .5)
  assert.deepEqual(quantileCuts(Array.from({ length: 101 }, (_, i) => i), 4), [25, 50, 75]);
  close(quantileCuts([1, 2, 3, 4], 3)[0], 2); // np.quantile([1,2,3,4], 1/3) = 2.0
  close(quantileCuts([1, 2, 3, 4], 3)[1], 3);
  assert.deepEqual(quantileCuts([0, 0, 0, 0, 1], 4), [0]);
  assert.deepEqual(quantileCuts([2, 2, 2.0000001, 2], 4), [2 - 2.0000001e-4, 2.0000001 + 2.0000001e-4]);
  assert.throws(() => quantileCuts([], 4), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
  assert.throws(() => quantileCuts([1], 1), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
});

test('binIndex puts a value on a cut into the upper bin; outer bins are open-ended', () => {
  const cuts = [1, 2];
  assert.deepEqual([-5, 0.5, 1, 1.5, 2, 50].map((v) => binIndex(cuts, v)), [0, 0, 1, 1, 2, 2]);
  assert.deepEqual(binCounts([-5, 0.5, 1, 1.5, 2, 50], cuts), [2, 2, 2]);
  assert.deepEqual(toProbabilities([1, 3]), [0.25, 0.75]);
  assert.throws(() => toProbabilities([0, 0]), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
});

test('PSI equals the hand-computed sum (q - p) ln(q / p) and stays finite on empty bins', () => {
  // (0.9-0.5) ln(0.9/0.5) + (0.1-0.5) ln(0.1/0.5) = 0.235115 + 0.643775
  close(populationStabilityIndex([50, 50], [90, 10]), 0.8788898, 1e-6);
  close(populationStabilityIndex([0.25, 0.25, 0.5], [0.25, 0.25, 0.5]), 0);
  // Symmetric by construction.
  close(populationStabilityIndex([90, 10], [50, 50]), populationStabilityIndex([50, 50], [90, 10]));
  // Disjoint: p = (1, 1e-4)/1.0001, q reversed: 2 (1 - 1e-4)/1.0001 ln(1e4)
  close(populationStabilityIndex([1, 0], [0, 1]), (2 * (1 - 1e-4) / 1.0001) * Math.log(1e4), 1e-6);
  assert.throws(() => populationStabilityIndex([1, 1], [1, 1, 1]), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
});

test('Jensen-Shannon divergence in bits: 0 identical, 1 disjoint, 0.311278 for (1/2, 1/2) vs (1, 0)', () => {
  close(jensenShannonDivergence([1, 2, 3], [2, 4, 6]), 0);
  close(jensenShannonDivergence([1, 0], [0, 1]), 1);
  // 0.5 (0.5 log2(2/3) + 0.5 log2 2) + 0.5 log2(4/3)
  close(jensenShannonDivergence([0.5, 0.5], [1, 0]), 0.3112781, 1e-6);
  close(jensenShannonDivergence([1, 0], [0.5, 0.5]), 0.3112781, 1e-6);
});

test('sampleSummaries gives per-sample mean and population standard deviation', () => {
  const { mean, std } = sampleSummaries(Float32Array.of(1, 2, 3, 4, 4, 4), 2, 3);
  assert.deepEqual([...mean], [2, 4]);
  close(std[0], Math.sqrt(2 / 3));
  close(std[1], 0);
  assert.throws(() => sampleSummaries(new Float32Array(5), 2, 3), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
  assert.deepEqual(classCounts([0, 2, 2, 1, 2], 3), [1, 1, 3]);
  assert.throws(() => classCounts([3], 3), isCode('BONSAI_DAEMON_BAD_DRIFT_INPUT'));
});

/** n samples of 4 values; sample i has mean `base + (i % 10) / 10` and labels cycling through 3 classes. */
function samples(n: number, base: number): { batch: Float32Array; n: number; sampleSize: number } {
  const batch = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const m = base + (i % 10) / 10;
    batch.set([m - 0.1, m + 0.1, m - 0.2, m + 0.2], i * 4);
  }
  return { batch, n, sampleSize: 4 };
}

test('a reference built from training data scores the same distribution as no drift and a shifted one as drift', () => {
  const labels = Array.from({ length: 210 }, (_, i) => i % 3);
  const reference = buildDriftReference(samples(210, 0), labels, 3);
  assert.deepEqual(reference.classes, [1 / 3, 1 / 3, 1 / 3]);
  close(reference.classes.reduce((a, b) => a + b, 0), 1);
  assert.equal(reference.inputs.mean?.probs.length, (reference.inputs.mean?.cuts.length ?? 0) + 1);

  const same = samples(100, 0);
  const sameSummaries = sampleSummaries(same.batch, same.n, same.sampleSize);
  const calm = driftScores(reference, { summaries: sameSummaries, predicted: Array.from({ length: 99 }, (_, i) => i % 3) });
  assert.deepEqual(calm.map((s) => `${s.method}/${s.scope}`), ['psi/input_mean', 'js/input_mean', 'psi/input_std', 'js/input_std', 'psi/prediction', 'js/prediction']);
  for (const s of calm) assert.ok(s.value < 0.01, `${s.method}/${s.scope} = ${s.value} on identical data`);

  const shifted = samples(100, 5);
  const shiftedSummaries = sampleSummaries(shifted.batch, shifted.n, shifted.sampleSize);
  const drifted = driftScores(reference, { summaries: shiftedSummaries, predicted: new Array<number>(100).fill(0) });
  const get = (method: string, scope: string): number => drifted.find((s) => s.method === method && s.scope === scope)?.value ?? Number.NaN;
  assert.ok(get('psi', 'input_mean') > 1, `psi input_mean ${get('psi', 'input_mean')}`);
  // Reference deciles (0.1 each) vs everything in the top bin: m = (0.05 x 9, 0.55).
  close(get('js', 'input_mean'), 0.5 * Math.log2(1 / 0.55) + 0.5 * (0.9 * Math.log2(2) + 0.1 * Math.log2(0.1 / 0.55)), 1e-9);
  // Std is unchanged by a shift of the mean.
  assert.ok(get('psi', 'input_std') < 0.01);
  // All predictions in class 0 vs (1/3, 1/3, 1/3): m = (2/3, 1/6, 1/6), JS = KL(q || m) / 2 + KL(p || m) / 2
  const expected = 0.5 * Math.log2(1.5) + 0.5 * ((1 / 3) * Math.log2(0.5) + (2 / 3) * Math.log2(2));
  close(get('js', 'prediction'), expected, 1e-9);
  close(expected, 0.4591479, 1e-6);
});

test('PrequentialWindow averages the last `size` outcomes', () => {
  const w = new PrequentialWindow(3);
  assert.equal(w.accuracy(), null);
  w.record(true);
  w.record(false);
  w.record(true);
  close(w.accuracy() ?? -1, 2 / 3);
  w.record(false); // window is now [false, true, false]
  close(w.accuracy() ?? -1, 1 / 3);
  assert.equal(w.count, 3);
  assert.equal(w.total, 4);
  w.recordBatch([1, 2, 3], [1, 2, 3]);
  assert.equal(w.accuracy(), 1);
  w.clear();
  assert.equal(w.accuracy(), null);
  assert.throws(() => w.recordBatch([1], [1, 2]), isCode('BONSAI_DAEMON_BAD_WINDOW'));
  assert.throws(() => new PrequentialWindow(0), isCode('BONSAI_DAEMON_BAD_WINDOW'));
});

test('ServingMonitor keeps the last `window` samples, resets on a new version, scores only with a reference', () => {
  const monitor = new ServingMonitor({ window: 4, minSamples: 2 });
  const v1 = { version: 1, labels: ['a', 'b'] };
  monitor.observe(v1, Float32Array.of(0, 0, 1, 1, 2, 2), 3, 2, [0, 1, 1]);
  assert.deepEqual(monitor.classRatios(), [{ label: 'a', ratio: 1 / 3 }, { label: 'b', ratio: 2 / 3 }]);
  monitor.observe(v1, Float32Array.of(0, 0, 0, 0), 2, 2, [0, 0]);
  assert.equal(monitor.count, 4);
  // The oldest sample (class 0) fell out: [1, 1, 0, 0].
  assert.deepEqual(monitor.classRatios(), [{ label: 'a', ratio: 0.5 }, { label: 'b', ratio: 0.5 }]);
  assert.deepEqual(monitor.driftScores(), []);

  const reference = buildDriftReference(samples(50, 0), Array.from({ length: 50 }, (_, i) => i % 2), 2);
  const v2 = { version: 2, labels: ['a', 'b'], driftReference: reference };
  monitor.observe(v2, Float32Array.of(0, 0, 0, 0), 1, 4, [1]);
  assert.equal(monitor.count, 1);
  assert.deepEqual(monitor.driftScores(), [], 'fewer than minSamples');
  monitor.observe(v2, Float32Array.of(0, 0, 0, 0), 1, 4, [1]);
  assert.equal(monitor.driftScores().length, 6);
  assert.throws(() => new ServingMonitor({ window: 0 }), isCode('BONSAI_DAEMON_BAD_WINDOW'));
});
