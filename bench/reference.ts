/**
 * Does retraining alone read as a loss? The pruning decision compares each candidate,
 * retrained for a fixed budget after its cut, with a reference on the same validation
 * samples (core/prune/decision.ts). This measures the decision on candidates that were
 * retrained but NOT pruned (no true loss from pruning), against two references:
 *
 * - the trained model as the annealed schedule left it (the reference before
 *   UpdateConfig.retrainReference), candidates = it + one retraining budget;
 * - that model retrained for one budget (the reference now), candidates = the
 *   reference + one more budget, as pruning's candidates are.
 *
 * The trained model is ours' grown LeNet-300-100 at the last update of the MNIST quick
 * profile (ours' lineage through nine arrivals, then the tenth update's growth), the
 * model on which the early stops were seen. Each candidate is one draw (its own
 * shuffling and augmentation seed).
 *
 *   npx tsx bench/reference.ts [--draws 8]     # writes bench/results/reference.{md,json}
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  tf, initBackend, affineDistortion, type Dataset, classificationTask, type Task, runUpdate, type StrategyState, type UpdateResult, paperUpdateConfig, type UpdateConfig, cloneModel, type MaskedModel, Trainer, CostLedger, DEFAULT_NO_LOSS_RULE, noLossDecision,
} from '../core/index.ts';
import { mnistSplits } from '../pipelines/datasets/mnist.ts';
import { PROFILES } from '../experiments/mnist.ts';
import { arg } from './args.ts';

const SEED = 1;
const draws = arg('draws', 8);
const out = arg('out', 'bench/results');

function taskFor(seed: number): Task<Dataset> {
  const distortion = affineDistortion({ seed, enabled: true });
  return classificationTask({ augment: (x) => distortion.apply(x as tf.Tensor4D) });
}

/** The quick profile's update settings with the old reference (none retrained). */
const config: UpdateConfig = { ...paperUpdateConfig, ...PROFILES.quick.update, seed: SEED, retrainReference: false };
const splits = mnistSplits({ seed: SEED, validation: PROFILES.quick.validation, limit: PROFILES.quick.limit });
const spec = { arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10 };
const all = splits.firstParts(splits.parts.length);

/** Ours' lineage through the first nine arrivals, then the tenth update's growth, unpruned. */
function grownModel(): MaskedModel {
  let state: StrategyState | null = null;
  for (let r = 0; r < splits.parts.length; r++) {
    const last = r === splits.parts.length - 1;
    const result: UpdateResult = runUpdate({
      strategy: 'ours', previous: state, spec, task: taskFor(SEED + 1000 * r),
      data: { newData: splits.parts[r], allData: splits.firstParts(r + 1), validation: splits.validation, numClasses: 10 },
      config: { ...config, seed: SEED + 1000 * r, maxPruneIterations: last ? 0 : config.maxPruneIterations },
    });
    state = result.state;
    console.log(`arrival ${r + 1}/${splits.parts.length}: ${result.state.model.liveParams()} live parameters`);
  }
  return (state as StrategyState).model;
}

/** A copy of `model` retrained for one pruning budget with its own seed. */
function retrained(model: MaskedModel, seed: number): MaskedModel {
  const copy = cloneModel(model);
  const trainer = new Trainer({
    model: copy, task: taskFor(seed), batchSize: config.batchSize, seed, cost: new CostLedger(), augment: true,
    optimizer: { ...config.optimizer, learningRate: config.pruneLearningRate },
  });
  const samples = Math.round(config.retrainEpochs * all.n);
  trainer.trainEpoch(all, 'prune', 1, samples);
  trainer.dispose();
  return copy;
}

interface Measured { errors: Uint8Array | Float32Array | number[]; units: number; validation: number; test: number }
function measure(model: MaskedModel): Measured {
  const task = taskFor(0);
  const trainer = new Trainer({ model, task, batchSize: 500, seed: 0, cost: new CostLedger(), optimizer: config.optimizer });
  const v = trainer.sampleErrors(splits.validation, 'eval');
  trainer.dispose();
  return { errors: v.errors, units: v.units, validation: v.rate, test: task.errorRate(model, splits.test, 500) };
}

await initBackend({ log: () => undefined });
const grown = grownModel();
const annealed = measure(grown);
const reference = retrained(grown, 7001);
const settled = measure(reference);
interface Row { draw: number; oldValidation: number; oldTest: number; oldExcess: number; oldMargin: number; oldAccept: boolean; newValidation: number; newTest: number; newExcess: number; newMargin: number; newAccept: boolean }
const rows: Row[] = [];
for (let d = 1; d <= draws; d++) {
  const oldCandidate = retrained(grown, 8000 + d);
  const newCandidate = retrained(reference, 9000 + d);
  const a = measure(oldCandidate);
  const b = measure(newCandidate);
  const old = noLossDecision(annealed.errors, a.errors, DEFAULT_NO_LOSS_RULE, annealed.units);
  const now = noLossDecision(settled.errors, b.errors, DEFAULT_NO_LOSS_RULE, settled.units);
  rows.push({
    draw: d, oldValidation: a.validation, oldTest: a.test, oldExcess: old.excess, oldMargin: old.margin, oldAccept: old.accept,
    newValidation: b.validation, newTest: b.test, newExcess: now.excess, newMargin: now.margin, newAccept: now.accept,
  });
  console.log(`draw ${d}: against the annealed model ${old.accept ? 'accepted' : 'rejected'}, against the retrained one ${now.accept ? 'accepted' : 'rejected'}`);
  oldCandidate.dispose();
  newCandidate.dispose();
}

const pct = (x: number): string => (x * 100).toFixed(2);
const accepted = (f: (r: Row) => boolean): number => rows.filter(f).length;
const command = `npx tsx bench/reference.ts --draws ${draws}`;
const md = [
  '# Retraining without pruning, judged by the no-loss decision',
  '',
  `Command: \`${command}\` (${new Date().toISOString().slice(0, 10)}). Ours' grown LeNet-300-100 at the last update of the MNIST quick profile (seed ${SEED}: ${all.n} training images, ${splits.validation.n} validation, ${splits.test.n} test), ${grown.liveParams()} live parameters. Each candidate is retrained for one pruning budget (${config.retrainEpochs} epoch at lr ${config.pruneLearningRate}, momentum ${config.optimizer.kind === 'sgd' ? config.optimizer.momentum : '-'}, augmentation on) with its own seed and NOT pruned, so a rejection is a false reject. Decision: the default rule (within one paired standard error, at most half a point).`,
  '',
  `- The annealed model (old reference): validation ${pct(annealed.validation)} %, test ${pct(annealed.test)} %.`,
  `- Retrained once (new reference): validation ${pct(settled.validation)} %, test ${pct(settled.test)} %.`,
  `- Accepted against the annealed model: **${accepted((r) => r.oldAccept)} of ${rows.length}**; against the retrained reference: **${accepted((r) => r.newAccept)} of ${rows.length}**.`,
  '',
  '| draw | old: candidate val % | test % | excess / margin (samples) | accepted | new: candidate val % | test % | excess / margin | accepted |',
  '|---:|---:|---:|---:|---|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.draw} | ${pct(r.oldValidation)} | ${pct(r.oldTest)} | ${r.oldExcess} / ${r.oldMargin.toFixed(1)} | ${r.oldAccept ? 'yes' : 'no'} | ${pct(r.newValidation)} | ${pct(r.newTest)} | ${r.newExcess} / ${r.newMargin.toFixed(1)} | ${r.newAccept ? 'yes' : 'no'} |`),
  '',
  `With ${rows.length} draws per reference, an observed acceptance of k of ${rows.length} has a binomial standard error of up to ${(50 / Math.sqrt(rows.length)).toFixed(0)} points: the rates are rough, the contrast between the two columns is what this shows.`,
  '',
].join('\n');
mkdirSync(out, { recursive: true });
writeFileSync(`${out}/reference.md`, md);
writeFileSync(`${out}/reference.json`, JSON.stringify({ command, annealed: { validation: annealed.validation, test: annealed.test }, settled: { validation: settled.validation, test: settled.test }, rows }, null, 2));
grown.dispose();
reference.dispose();
console.log(md);
