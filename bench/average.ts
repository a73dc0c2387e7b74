/**
 * Does averaging the retraining's iterates make the pruning decision sharper?
 *
 * The decision (core/prune/decision.ts) compares a retrained candidate with a retrained
 * reference on the same validation samples; its margin is z * sqrt(V), V the samples the
 * two disagree on, capped at half a point. Two models that differ only by the chance of
 * their last SGD steps disagree on some samples anyway: that noise is what the margin must
 * cover, and where the cap binds (small validation sets) it turns into false rejections.
 * This measures it, on one trained network, for the two ways a retraining can end:
 *
 * - `last`: the last iterate (the behaviour before UpdateConfig.averageRetraining);
 * - `averaged`: the mean of the iterates over the second half of the budget.
 *
 * For each, a reference is the trained model retrained once (as the daemon does), and
 * each draw (its own shuffling and augmentation seed) retrains from it twice: once NOT
 * pruned (any rejection is false) and once after a recoverable cut of `--cut` of every
 * kernel's live connections (a real change, whose acceptance rate shows what the
 * decision lets through). Per draw: disagreements V, excess S, margin, verdict,
 * validation and test error.
 *
 * Network and settings are the daemon's defaults (LeNet-300-100, its optimizer, pruning
 * rate, half an epoch of retraining, augmentation), trained for E1 + E2 epochs.
 *
 *   npx tsx bench/average.ts [--data shapes|mnist] [--train 8000] [--validation 1000] [--draws 12] [--cut 0.3]
 *
 * Writes bench/results/average-<data>.{md,json}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  tf, initBackend, affineDistortion, type Dataset, classificationTask, type Task, cloneModel, type MaskedModel, Trainer, CostLedger, DEFAULT_NO_LOSS_RULE, noLossDecision, createModel, retrainFor, pruneStep,
} from '../core/index.ts';
import { loadConfig } from '../config/index.ts';
import { updateConfig } from '../daemon/daemon.ts';
import { mnistSplits } from '../pipelines/datasets/mnist.ts';
import { drawSet } from './foreign.ts';
import { arg } from './args.ts';

const DATA = arg('data', 'shapes');
const TRAIN = arg('train', 8000);
const VALIDATION = arg('validation', 1000);
const DRAWS = arg('draws', 12);
const CUT = arg('cut', 0.3);
const OUT = arg('out', 'bench/results');
const SEED = 11;

const config = updateConfig(loadConfig({ env: {} }), { seed: SEED });

function splits(): { train: Dataset; validation: Dataset; test: Dataset } {
  if (DATA === 'mnist') {
    const s = mnistSplits({ seed: SEED, validation: VALIDATION, parts: 1, limit: TRAIN + VALIDATION });
    return { train: s.firstParts(1), validation: s.validation, test: s.test };
  }
  return { train: drawSet(TRAIN, SEED), validation: drawSet(VALIDATION, SEED + 1), test: drawSet(2000, SEED + 2) };
}

function taskFor(seed: number): Task<Dataset> {
  const distortion = affineDistortion({ seed, enabled: config.augment });
  return classificationTask({ augment: (x) => distortion.apply(x as tf.Tensor4D) });
}

function trainerOf(model: MaskedModel, seed: number, learningRate: number): Trainer<Dataset> {
  return new Trainer({ model, task: taskFor(seed), batchSize: config.batchSize, seed, cost: new CostLedger(), augment: config.augment, optimizer: { ...config.optimizer, learningRate } });
}

/** A copy of `model`, cut by `cut` (recoverable) when positive, retrained for one pruning budget. */
function retrained(model: MaskedModel, train: Dataset, seed: number, average: boolean, cut = 0): MaskedModel {
  const copy = cloneModel(model);
  const trainer = trainerOf(copy, seed, config.pruneLearningRate);
  if (cut > 0) pruneStep(trainer, cut, true);
  retrainFor(trainer, train, config.retrainEpochs, 'prune', 1, average);
  trainer.dispose();
  return copy;
}

interface Measured { errors: ArrayLike<number>; units: number; validation: number; test: number }
function measure(model: MaskedModel, data: ReturnType<typeof splits>): Measured {
  const trainer = trainerOf(model, 0, config.pruneLearningRate);
  const v = trainer.sampleErrors(data.validation, 'eval');
  const test = trainer.errorRate(data.test, 'eval');
  trainer.dispose();
  return { errors: v.errors, units: v.units, validation: v.rate, test };
}

interface Draw { draw: number; kind: 'unpruned' | 'cut'; disagreements: number; excess: number; margin: number; accept: boolean; validation: number; test: number }
interface Mode { mode: 'last' | 'averaged'; reference: { validation: number; test: number }; draws: Draw[] }

await initBackend({ log: () => undefined });
const data = splits();
const t0 = performance.now();
const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: SEED });
{
  const trainer = trainerOf(model, SEED, config.optimizer.learningRate);
  const epochs = config.newDataEpochs + config.allDataEpochs;
  for (let e = 1; e <= epochs; e++) {
    const loss = trainer.trainEpoch(data.train, 'train', e);
    if (e % 5 === 0 || e === epochs) console.log(`trained epoch ${e}/${epochs}, loss ${loss.toFixed(4)}`);
  }
  trainer.dispose();
}
const modes: Mode[] = [];
for (const mode of ['last', 'averaged'] as const) {
  const average = mode === 'averaged';
  const reference = retrained(model, data.train, 7001, average);
  const ref = measure(reference, data);
  const draws: Draw[] = [];
  for (let d = 1; d <= DRAWS; d++) {
    for (const kind of ['unpruned', 'cut'] as const) {
      const candidate = retrained(reference, data.train, 9000 + d, average, kind === 'cut' ? CUT : 0);
      const m = measure(candidate, data);
      const decision = noLossDecision(ref.errors, m.errors, DEFAULT_NO_LOSS_RULE, ref.units);
      draws.push({ draw: d, kind, disagreements: decision.worse + decision.better, excess: decision.excess, margin: decision.margin, accept: decision.accept, validation: m.validation, test: m.test });
      candidate.dispose();
    }
    console.log(`${mode}: draw ${d}/${DRAWS}`);
  }
  reference.dispose();
  modes.push({ mode, reference: { validation: ref.validation, test: ref.test }, draws });
}
model.dispose();
const seconds = (performance.now() - t0) / 1000;

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
/** Sample standard deviation. */
function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(xs.length - 1, 1));
}
const pct = (x: number): string => (x * 100).toFixed(2);
const command = `npx tsx bench/average.ts --data ${DATA} --train ${TRAIN} --validation ${VALIDATION} --draws ${DRAWS} --cut ${CUT}`;
const summary = modes.flatMap((m) => (['unpruned', 'cut'] as const).map((kind) => {
  const ds = m.draws.filter((d) => d.kind === kind);
  return {
    mode: m.mode, kind, disagreements: mean(ds.map((d) => d.disagreements)), excessSd: sd(ds.map((d) => d.excess)), excess: mean(ds.map((d) => d.excess)),
    margin: mean(ds.map((d) => d.margin)), accepted: ds.filter((d) => d.accept).length, draws: ds.length, validation: mean(ds.map((d) => d.validation)), test: mean(ds.map((d) => d.test)), testSd: sd(ds.map((d) => d.test)),
  };
}));
const md = [
  `# Averaged retraining and the pruning decision (${DATA})`,
  '',
  `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}, ${seconds.toFixed(0)} s). ${DATA === 'mnist' ? 'MNIST' : 'The procedurally drawn shapes of bench/foreign.ts'}: ${data.train.n} training, ${data.validation.n} validation, ${data.test.n} test samples. LeNet-300-100 trained ${config.newDataEpochs + config.allDataEpochs} epochs with the daemon's defaults (${config.optimizer.kind} lr ${config.optimizer.learningRate}, batch ${config.batchSize}, augmentation ${config.augment ? 'on' : 'off'}); every retraining is ${config.retrainEpochs} epoch at lr ${config.pruneLearningRate}, each draw with its own seed. Decision: the default rule (one paired standard error, at most half a point).`,
  '',
  `- **last**: each retraining ends at its last iterate; **averaged**: at the mean of its iterates over the second half of the budget. The reference is the trained model retrained once the same way: validation ${modes.map((m) => `${m.mode} ${pct(m.reference.validation)} %`).join(', ')}; test ${modes.map((m) => `${m.mode} ${pct(m.reference.test)} %`).join(', ')}.`,
  `- **unpruned** candidates: the reference retrained once more, not pruned (every rejection is a false one); **cut**: a recoverable cut of ${(CUT * 100).toFixed(0)} % of every kernel's live connections, then retrained.`,
  '',
  '| retraining ends at | candidate | disagreements V (mean) | excess S: mean, sd | margin (mean) | accepted | validation % | test %: mean, sd |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
  ...summary.map((s) => `| ${s.mode} | ${s.kind} | ${s.disagreements.toFixed(1)} | ${s.excess.toFixed(1)}, ${s.excessSd.toFixed(1)} | ${s.margin.toFixed(1)} | ${s.accepted} of ${s.draws} | ${pct(s.validation)} | ${pct(s.test)}, ${pct(s.testSd)} |`),
  '',
  `Margins are in samples of the ${data.validation.n} validation samples. An acceptance of k of ${DRAWS} has a binomial standard error of up to ${(50 / Math.sqrt(DRAWS)).toFixed(0)} points, so the rates are rough; the disagreements and the spread of S are the measurement (their standard errors are sd / sqrt(${DRAWS})).`,
  '',
].join('\n');
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}/average-${DATA}.md`, md);
writeFileSync(`${OUT}/average-${DATA}.json`, JSON.stringify({ command, seconds, config: { retrainEpochs: config.retrainEpochs, pruneLearningRate: config.pruneLearningRate, optimizer: config.optimizer }, summary, modes }, null, 2));
console.log(md);
