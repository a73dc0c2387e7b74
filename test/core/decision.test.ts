import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_NO_LOSS_RULE, noLossDecision, validationAdequacy } from '../../core/prune/decision.ts';
import { acceptanceRate, pairedStandardError, phi } from '../../bench/decision.ts';

test('the decision counts only the samples where the two models disagree (McNemar)', () => {
  // 10 samples: both right on 5, both wrong on 1, candidate worse on 3, better on 1.
  const reference = [0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
  const candidate = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0];
  const d = noLossDecision(reference, candidate, { z: 0.5, tolerance: 0 });
  assert.equal(d.worse, 3);
  assert.equal(d.better, 1);
  assert.equal(d.excess, 2);
  assert.ok(Math.abs(d.margin - 0.5 * Math.sqrt(4)) < 1e-12);
  assert.equal(d.accept, false, 'an excess of 2 against a margin of 1 is a loss');
  assert.equal(d.referenceError, 0.2);
  assert.equal(d.candidateError, 0.4);
  // The same excess among many more disagreements is within the noise.
  const r2 = [...reference, ...Array(40).fill(0), ...Array(40).fill(1)];
  const c2 = [...candidate, ...Array(40).fill(1), ...Array(40).fill(0)];
  assert.equal(noLossDecision(r2, c2, { z: 0.5, tolerance: 0 }).accept, true);
  // A stated tolerance (in error fraction) moves the bar by tolerance * units.
  assert.equal(noLossDecision(reference, candidate, { z: 0, tolerance: 0.2 }).accept, true);
  assert.equal(noLossDecision(reference, candidate, { z: 0, tolerance: 0.1 }).accept, false);
  // Identical models: accepted, with nothing to compare.
  assert.equal(noLossDecision(reference, reference).accept, true);
  assert.throws(() => noLossDecision([0, 1], [0]), /same samples/);
});

test('word-error counts per utterance are compared the same way (units = reference words)', () => {
  const reference = [0, 1, 0, 2];
  const candidate = [1, 1, 0, 0];
  const d = noLossDecision(reference, candidate, { z: 0, tolerance: 0 }, 20);
  assert.equal(d.excess, -1);
  assert.equal(d.referenceError, 3 / 20);
  assert.equal(d.candidateError, 2 / 20);
  assert.equal(d.accept, true);
});

// Measured false-reject and false-accept rates on synthetic cases of known loss, at several
// validation sizes (bench/results/decision.md has the full table): the rule accepts a
// candidate with no loss in about Phi(z) of the draws, and a loss of 3 standard errors of the
// paired difference almost never (Phi(z - 3.5)), whatever the size.
for (const n of [500, 2000, 5000]) {
  test(`known loss rejected, no loss accepted, at ${n} validation samples`, () => {
    // The margin alone (no cap): its rates follow Phi(z - k) at every size.
    const rule = { z: DEFAULT_NO_LOSS_RULE.z, tolerance: 0 };
    const disagreement = 0.04;
    const se = pairedStandardError({ n, disagreement });
    const trials = 600;
    const none = acceptanceRate({ n, error: 0.05, disagreement, loss: 0 }, rule, trials, n);
    const expected = phi(rule.z);
    // Binomial sampling error of the measured rate: sqrt(p(1-p)/trials) ~ 0.019; allow 4 of them.
    assert.ok(Math.abs(none - expected) < 0.08, `no loss: accepted ${none}, expected ${expected.toFixed(3)} (false-reject rate ${(1 - none).toFixed(3)})`);
    const big = acceptanceRate({ n, error: 0.05, disagreement, loss: 3.5 * se }, rule, trials, n + 1);
    assert.ok(big <= 0.03, `a loss of 3.5 SE (${(350 * se).toFixed(2)} points) was accepted in ${big} of the draws`);
    const one = acceptanceRate({ n, error: 0.05, disagreement, loss: se }, rule, trials, n + 2);
    assert.ok(one < none - 0.15, `a loss of 1 SE is accepted less often (${one}) than none (${none})`);
  });
}

test('a fixed loss in points (0.6) is rejected more surely on more validation samples', () => {
  const rates = [500, 2000, 10000].map((n) => acceptanceRate({ n, error: 0.05, disagreement: 0.04, loss: 0.006 }, DEFAULT_NO_LOSS_RULE, 400, 7 * n));
  assert.ok(rates[0] > rates[1] && rates[1] > rates[2], `acceptance of a 0.5-point loss by size: ${rates.join(', ')}`);
  assert.ok(rates[2] < 0.06, `a 0.6-point loss accepted in ${rates[2]} of the draws at 10,000 samples`);
});

test('validation adequacy: a handful of samples cannot resolve a loss of half a point', () => {
  const rule = DEFAULT_NO_LOSS_RULE;
  assert.equal(validationAdequacy(14, 0.1, rule, 0.005).adequate, false);
  assert.equal(validationAdequacy(300, 0.1, rule, 0.005).adequate, false);
  const need = validationAdequacy(0, 0.1, rule, 0.005).minSamples;
  assert.equal(validationAdequacy(need, 0.1, rule, 0.005).adequate, true);
  // Lower error, fewer samples needed; never fewer than the floor of 100.
  assert.ok(validationAdequacy(0, 0.02, rule, 0.005).minSamples < need);
  assert.ok(validationAdequacy(0, 0.0, rule, 0.05).minSamples >= 100);
});

test('maxLoss caps the margin where z standard errors would be several points', () => {
  // 200 samples, 30 disagreements, excess 4 (2 points): within z = 1 SE (sqrt(30) = 5.5) but above a cap of 1 point (2 samples).
  const reference = new Float32Array(200);
  const candidate = new Float32Array(200);
  for (let i = 0; i < 17; i++) candidate[i] = 1;
  for (let i = 17; i < 30; i++) reference[i] = 1;
  assert.equal(noLossDecision(reference, candidate, { z: 1, tolerance: 0 }).accept, true);
  const capped = noLossDecision(reference, candidate, { z: 1, tolerance: 0, maxLoss: 0.01 });
  assert.equal(capped.accept, false);
  assert.equal(capped.margin, 2);
});

test('the default rule caps the measured loss at half a point: stricter where one standard error is larger', () => {
  const uncapped = { z: DEFAULT_NO_LOSS_RULE.z, tolerance: 0, continuity: DEFAULT_NO_LOSS_RULE.continuity };
  // 500 samples, 4 % disagreement: one SE is 0.89 points, above the 0.5-point cap.
  const c = { n: 500, error: 0.05, disagreement: 0.04, loss: 0.006 };
  const capped = acceptanceRate(c, DEFAULT_NO_LOSS_RULE, 600, 11);
  const plain = acceptanceRate(c, uncapped, 600, 11);
  assert.ok(capped < plain - 0.1, `a 0.6-point loss: accepted ${capped} with the cap, ${plain} without`);
  // 10,000 samples: one SE is 0.2 points, the cap does not bind and both rules agree.
  const big = { n: 10000, error: 0.05, disagreement: 0.04, loss: 0.001 };
  assert.equal(acceptanceRate(big, DEFAULT_NO_LOSS_RULE, 200, 12), acceptanceRate(big, uncapped, 200, 12));
});

test("the continuity correction: two disagreements against the candidate pass, three do not; none is added at z = 0", () => {
  const reference = new Uint8Array(1000);
  const wrongOn = (k: number): Uint8Array => Uint8Array.from(reference, (_, i) => (i < k ? 1 : 0));
  // b = 2, c = 0: (|b - c| - 1) / sqrt(b + c) = 0.71 standard errors (exact one-sided p = 0.25).
  const two = noLossDecision(reference, wrongOn(2));
  assert.equal(two.accept, true, `margin ${two.margin}`);
  assert.ok(Math.abs(two.margin - (Math.SQRT2 + 1)) < 1e-9);
  assert.equal(noLossDecision(reference, wrongOn(2), { ...DEFAULT_NO_LOSS_RULE, continuity: 0 }).accept, false);
  // b = 3, c = 0: 1.15 standard errors after the correction (exact p = 0.125): a loss.
  assert.equal(noLossDecision(reference, wrongOn(3)).accept, false);
  // z = 0 (a gate without a noise margin) adds no correction either: one excess error is a loss.
  assert.equal(noLossDecision(reference, wrongOn(1), { ...DEFAULT_NO_LOSS_RULE, z: 0 }).accept, false);
});
