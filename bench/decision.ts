/**
 * Operating characteristics of the "no accuracy loss" decision (core/prune/decision.ts),
 * measured on synthetic cases of known loss: a reference and a candidate classifier
 * disagree on a fraction `disagreement` of n validation samples, and the candidate is
 * worse on (disagreement + loss) / 2 of them and better on (disagreement - loss) / 2,
 * so its true loss is `loss` (error fraction). The acceptance rate over many draws is
 * the false-reject rate's complement at loss 0 and the false-accept rate at loss > 0.
 *
 *   npm run bench:decision            # writes bench/results/decision.{md,json}
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { DEFAULT_NO_LOSS_RULE, noLossDecision, type NoLossRule, seededRandom } from '../core/index.ts';

export interface SyntheticCase {
  /** Validation samples. */
  n: number;
  /** Reference error rate. */
  error: number;
  /** Fraction of samples on which the two models disagree. */
  disagreement: number;
  /** True loss of the candidate (error fraction). */
  loss: number;
}

/** One draw: per-sample 0/1 errors of a reference and a candidate with the case's true loss. */
export function drawPair(c: SyntheticCase, next: () => number): { reference: Uint8Array; candidate: Uint8Array } {
  const worse = (c.disagreement + c.loss) / 2;
  const better = (c.disagreement - c.loss) / 2;
  if (better < 0) throw new RangeError(`loss ${c.loss} exceeds disagreement ${c.disagreement}`);
  const reference = new Uint8Array(c.n);
  const candidate = new Uint8Array(c.n);
  for (let i = 0; i < c.n; i++) {
    const u = next();
    if (u < worse) candidate[i] = 1; // reference right, candidate wrong
    else if (u < worse + better) reference[i] = 1; // reference wrong, candidate right
    else if (next() < c.error) { reference[i] = 1; candidate[i] = 1; } // both wrong
  }
  return { reference, candidate };
}

/** Fraction of `trials` draws of the case that the rule accepts. */
export function acceptanceRate(c: SyntheticCase, rule: NoLossRule, trials: number, seed: number): number {
  const next = seededRandom(seed);
  let accepted = 0;
  for (let t = 0; t < trials; t++) {
    const { reference, candidate } = drawPair(c, next);
    if (noLossDecision(reference, candidate, rule).accept) accepted++;
  }
  return accepted / trials;
}

/** The standard error of the paired difference, in error fraction: sqrt(disagreement / n). */
export function pairedStandardError(c: Pick<SyntheticCase, 'n' | 'disagreement'>): number {
  return Math.sqrt(c.disagreement / c.n);
}

/** The acceptance table of one rule over validation sizes and true losses. */
function table(rule: NoLossRule, sizes: number[], lossesInPoints: number[], disagreement: number, trials: number): { n: number; se: number; rates: number[] }[] {
  return sizes.map((n) => {
    const se = pairedStandardError({ n, disagreement });
    const rates = lossesInPoints.map((l, i) => (l / 100 > disagreement ? NaN : acceptanceRate({ n, error: 0.05, disagreement, loss: l / 100 }, rule, trials, 1000 * n + i)));
    console.log(`n=${n}: SE ${(100 * se).toFixed(2)} pts, accept ${rates.map((r) => r.toFixed(3)).join(' ')}`);
    return { n, se, rates };
  });
}

function markdown(rows: { n: number; se: number; rates: number[] }[], lossesInPoints: number[]): string[] {
  return [
    `| n | paired SE (points) | ${lossesInPoints.map((l) => `loss ${l} pt`).join(' | ')} |`,
    `|---:|---:|${lossesInPoints.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.n} | ${(100 * r.se).toFixed(2)} | ${r.rates.map((x) => (Number.isNaN(x) ? '-' : x.toFixed(3))).join(' | ')} |`),
  ];
}

function main(): void {
  const rule = DEFAULT_NO_LOSS_RULE;
  const marginOnly: NoLossRule = { z: rule.z, tolerance: 0, continuity: rule.continuity };
  const sizes = [150, 500, 1000, 2000, 5000, 10000];
  const disagreement = 0.03;
  const lossesInPoints = [0, 0.1, 0.2, 0.3, 0.5, 1, 2];
  const trials = 2000;
  const rows = table(rule, sizes, lossesInPoints, disagreement, trials);
  const plain = table(marginOnly, sizes, lossesInPoints, disagreement, trials);
  const md = [
    '# The "no accuracy loss" decision: measured error rates',
    '',
    '`npm run bench:decision` (bench/decision.ts). A candidate and the pre-pruning model disagree on 3 % of n',
    `validation samples; the candidate's true loss is the column's value. Each cell is the share of ${trials} draws`,
    'the rule accepts. At loss 0 the complement is the false-reject rate; at a loss above 0 the cell is the false-accept rate.',
    '',
    `## The default rule: margin z = ${rule.z} standard error of the paired difference plus a continuity correction of ${rule.continuity ?? 0} error, capped at ${(rule.maxLoss ?? 0) * 100} point`,
    '',
    ...markdown(rows, lossesInPoints),
    '',
    `## The margin alone (z = ${rule.z}, continuity ${rule.continuity ?? 0}, no cap)`,
    '',
    ...markdown(plain, lossesInPoints),
    '',
    'Theory (normal approximation, without the continuity correction): accept iff S <= z sqrt(V); at a true loss of k standard',
    `errors the acceptance rate is Phi(z - k): ${[0, 1, 2, 3].map((k) => `k = ${k}: ${phi(rule.z - k).toFixed(3)}`).join(', ')}. The correction (S - 1 <= z sqrt(V),`,
    'Edwards 1948, as in Dietterich 1998) raises these by 1 / sqrt(V) standard errors: much where the two models disagree on few',
    'samples (the small n above), little where they disagree on many.',
    'The cap binds where one standard error exceeds it (small n): there the rule accepts less, losses and no loss alike.',
    '',
  ].join('\n');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/decision.md', md);
  writeFileSync('bench/results/decision.json', JSON.stringify({ rule, disagreement, trials, lossesInPoints, rows, marginOnly: plain }, null, 2));
  console.log('wrote bench/results/decision.md');
}

/** The standard normal CDF (Abramowitz-Stegun 7.1.26 via erf). */
export function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x) / Math.SQRT2);
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
