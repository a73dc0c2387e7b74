/**
 * Learning-rate schedule for short daemon updates: grow-and-prune ("ours") on ten
 * arrivals of 200 MNIST digits with the demo's epochs (E1 = 2, E2 = 3, the first model
 * 6), SGD with momentum 0.9 at the daemon's default rate 0.01 and at the experiments'
 * 0.05, each with a constant rate and with the cosine schedule (to a tenth; pruning
 * retrains at that tenth). Test error (2,000 test images) after every arrival, side by
 * side in one run. The daemon's default schedule follows from it (docs/configuration.md).
 *
 *   npm run bench:schedule [-- --out bench/results]
 *
 * Writes `schedule.json` and `schedule.md` to the output folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  initBackend, classificationTask, runUpdate, type StrategyState, type UpdateResult, paperUpdateConfig, type UpdateConfig,
} from '../core/index.ts';
import { mnistSplits } from '../pipelines/datasets/mnist.ts';

interface Variant {
  learningRate: number;
  schedule: UpdateConfig['learningRateSchedule'];
  /** Test error (fraction) after each arrival. */
  errors: number[];
}

const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? process.argv[outIndex + 1] : 'bench/results';
const backend = await initBackend({ log: () => undefined });
const splits = mnistSplits({ seed: 1, validation: 250, limit: 2250, testLimit: 2000 });
const task = classificationTask();
const variants: Variant[] = [];
for (const learningRate of [0.01, 0.05]) {
  for (const schedule of ['constant', 'cosine'] as const) {
    const config: UpdateConfig = {
      ...paperUpdateConfig, optimizer: { kind: 'sgd', learningRate, momentum: 0.9 }, newDataEpochs: 2, allDataEpochs: 3, trainEpochs: 6,
      maxPruneIterations: 15, retrainEpochs: 5, augment: false, learningRateSchedule: schedule, minLearningRateFactor: 0.1,
      pruneLearningRate: schedule === 'cosine' ? learningRate * 0.1 : paperUpdateConfig.pruneLearningRate,
    };
    let state: StrategyState | null = null;
    const errors: number[] = [];
    for (let r = 0; r < splits.parts.length; r++) {
      const result: UpdateResult = runUpdate({
        strategy: 'ours', previous: state, spec: { arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10 }, task,
        data: { newData: splits.parts[r], allData: splits.firstParts(r + 1), validation: splits.validation, numClasses: 10 }, config: { ...config, seed: 1 + r },
      });
      state = result.state;
      errors.push(task.errorRate(result.state.model, splits.test, 500));
    }
    state?.model.dispose();
    variants.push({ learningRate, schedule, errors });
    process.stderr.write(`${new Date().toISOString()} sgd ${learningRate} ${schedule}: ${errors.map((e) => (e * 100).toFixed(1)).join(' ')}\n`);
  }
}
const pct = (e: number) => (e * 100).toFixed(1);
const md = [
  '# Learning-rate schedule for short updates', '',
  `Made by \`npm run bench:schedule\` on backend \`${backend.name}\` (${backend.threads} threads). Grow-and-prune on LeNet-300-100, ten arrivals of 200 MNIST digits, E1 = 2, E2 = 3 (first model 6 epochs), 250 validation and 2,000 test images, no augmentation.`, '',
  `| SGD rate | schedule | ${splits.parts.map((_, i) => `${(i + 1) * 200}`).join(' | ')} |`,
  `|---:|---|${splits.parts.map(() => '---:').join('|')}|`,
  ...variants.map((v) => `| ${v.learningRate} | ${v.schedule} | ${v.errors.map(pct).join(' | ')} |`),
  '', 'Test error (%) after each arrival (columns: digits seen). Cosine anneals each phase to a tenth of the rate and pruning retrains there; constant prunes at 0.01.', '',
];
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'schedule.json'), JSON.stringify({ backend, variants }, null, 2) + '\n');
writeFileSync(join(out, 'schedule.md'), md.join('\n'));
