/**
 * Is bonsai's dense training as good as PyTorch's? The same network, data and recipe in both,
 * in one run: LeNet-300-100 (and LeNet-5) trained from scratch on the MNIST quick profile's
 * 10,000 training images of a seed, tested on the 10,000 test images. The recipe is the quick
 * profile's training from scratch (TFS before pruning): SGD with momentum 0.9 at 0.05, batch
 * 64, the learning rate cosine-annealed per epoch to a tenth over 24 epochs, He-normal
 * initialisation, leaky ReLU; augmentation off in both (bonsai's affine distortion has no
 * PyTorch twin here). PyTorch runs bench/torch_accuracy.py on the same images, written to a
 * temporary folder. Several seeds (splits, initial weights, shuffles), because one test error
 * on 10,000 images has a standard error of about 0.14 points near 2 %.
 *
 *   npx tsx bench/torch-accuracy.ts [--seeds 3] [--epochs 24] [--models lenet300,lenet5]
 *   # writes bench/results/torch-accuracy.{md,json}
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initBackend, createModel, Trainer, classificationTask, scheduledRate, type Dataset } from '../core/index.ts';
import { mnistSplits } from '../pipelines/datasets/mnist.ts';
import { PROFILES } from '../experiments/mnist.ts';
import { arg } from './args.ts';
import { findTorchPython } from './torch-reference.ts';

const seeds = arg('seeds', 3);
const epochs = arg('epochs', 24);
const models = arg('models', 'lenet300,lenet5').split(',').filter((m) => m !== '');
const out = arg('out', 'bench/results');
const SCRIPT = fileURLToPath(new URL('./torch_accuracy.py', import.meta.url));
const RECIPE = { learningRate: 0.05, momentum: 0.9, batchSize: 64, epochs, minLearningRateFactor: 0.1 };

interface Run {
  model: string;
  seed: number;
  ours: { testError: number; trainSeconds: number };
  torch: { testError: number; trainSeconds: number };
}

function writePart(dir: string, name: string, d: Dataset): void {
  writeFileSync(join(dir, `${name}.x`), Buffer.from(d.x.buffer, d.x.byteOffset, d.x.byteLength));
  writeFileSync(join(dir, `${name}.y`), Buffer.from(d.y.buffer, d.y.byteOffset, d.y.byteLength));
}

function trainOurs(arch: string, seed: number, train: Dataset, test: Dataset): { testError: number; trainSeconds: number } {
  const task = classificationTask();
  const model = createModel({ arch, inputShape: [28, 28, 1], numClasses: 10, seed });
  const trainer = new Trainer({ model, task, batchSize: RECIPE.batchSize, seed, augment: false, optimizer: { kind: 'sgd', learningRate: RECIPE.learningRate, momentum: RECIPE.momentum } });
  const t0 = performance.now();
  try {
    for (let e = 0; e < epochs; e++) {
      trainer.optimizer.learningRate = scheduledRate(RECIPE.learningRate, e, epochs, { learningRateSchedule: 'cosine', minLearningRateFactor: RECIPE.minLearningRateFactor });
      const loss = trainer.trainEpoch(train, 'train', e + 1);
      process.stderr.write(`  ours ${arch} seed ${seed} epoch ${e + 1}/${epochs} loss ${loss.toFixed(4)}\n`);
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    return { testError: task.errorRate(model, test, 500), trainSeconds };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

function trainTorch(python: string, dir: string, arch: string, seed: number): { testError: number; trainSeconds: number } {
  const r = spawnSync(python, [SCRIPT, dir, '--model', arch, '--seed', String(seed)], { encoding: 'utf8', timeout: 3_600_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`bench/torch_accuracy.py --model ${arch} --seed ${seed} failed (exit ${r.status}): ${line || r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(line) as { testError: number; trainSeconds: number };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? NaN : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pts = (x: number) => (x * 100).toFixed(2);

async function main(): Promise<void> {
  const torch = findTorchPython(arg('python', '') || undefined);
  if (torch.python === null) throw new Error(`${torch.reason}: install Debian's python3-torch (apt-get install python3-torch) or pass --python`);
  const backend = await initBackend();
  const spec = PROFILES.quick;
  const runs: Run[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const splits = mnistSplits({ seed, validation: spec.validation, limit: spec.limit || undefined });
    const train = splits.firstParts(splits.parts.length);
    const dir = mkdtempSync(join(tmpdir(), 'bonsai-torch-accuracy-'));
    try {
      writePart(dir, 'train', train);
      writePart(dir, 'test', splits.test);
      writeFileSync(join(dir, 'recipe.json'), JSON.stringify(RECIPE));
      for (const model of models) {
        const ours = trainOurs(model, seed, train, splits.test);
        const theirs = trainTorch(torch.python, dir, model, seed);
        runs.push({ model, seed, ours, torch: theirs });
        process.stderr.write(`${model} seed ${seed}: ours ${pts(ours.testError)} % (${ours.trainSeconds.toFixed(0)} s), PyTorch ${pts(theirs.testError)} % (${theirs.trainSeconds.toFixed(0)} s)\n`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const summary = models.map((model) => {
    const rs = runs.filter((r) => r.model === model);
    const diffs = rs.map((r) => r.ours.testError - r.torch.testError);
    return {
      model, seeds: rs.length,
      ours: { mean: mean(rs.map((r) => r.ours.testError)), sd: sd(rs.map((r) => r.ours.testError)) },
      torch: { mean: mean(rs.map((r) => r.torch.testError)), sd: sd(rs.map((r) => r.torch.testError)) },
      difference: { mean: mean(diffs), standardError: sd(diffs) / Math.sqrt(diffs.length) },
      speed: mean(rs.map((r) => r.torch.trainSeconds / r.ours.trainSeconds)),
    };
  });
  const command = ['npx tsx bench/torch-accuracy.ts', ...process.argv.slice(2)].join(' ');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'torch-accuracy.json'), JSON.stringify({ date: new Date().toISOString(), command, backend: { name: backend.name, threads: backend.threads }, torch: torch.torch, recipe: RECIPE, runs, summary }, null, 2));
  const n = 10_000;
  const md = [
    '# Dense training beside PyTorch: test error on the same data and recipe',
    '',
    `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}; bonsai on \`${backend.name}\` (${backend.threads} thread${backend.threads === 1 ? '' : 's'}), PyTorch ${torch.torch} (\`bench/torch_accuracy.py\`, one thread).`,
    `Data: the MNIST quick profile's ${n.toLocaleString('en')} training images of each seed (its split), the 10,000 test images. Recipe (both): ${epochs} epochs from scratch, SGD momentum ${RECIPE.momentum} at ${RECIPE.learningRate}, batch ${RECIPE.batchSize}, learning rate cosine-annealed per epoch to a tenth, He-normal weights truncated at two standard deviations, zero biases, leaky ReLU 0.01, no augmentation. Each seed draws its own split, initial weights and shuffles in both libraries (the same images, not the same random numbers).`,
    '',
    '| model | seed | bonsai test error % | PyTorch test error % | difference (points) | bonsai s | PyTorch s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...runs.map((r) => `| ${r.model} | ${r.seed} | ${pts(r.ours.testError)} | ${pts(r.torch.testError)} | ${((r.ours.testError - r.torch.testError) * 100).toFixed(2)} | ${r.ours.trainSeconds.toFixed(0)} | ${r.torch.trainSeconds.toFixed(0)} |`),
    '',
    '| model | seeds | bonsai mean (sd) % | PyTorch mean (sd) % | difference: mean +- standard error (points) |',
    '|---|---:|---:|---:|---:|',
    ...summary.map((s) => `| ${s.model} | ${s.seeds} | ${pts(s.ours.mean)} (${pts(s.ours.sd)}) | ${pts(s.torch.mean)} (${pts(s.torch.sd)}) | ${(s.difference.mean * 100).toFixed(2)} +- ${(s.difference.standardError * 100).toFixed(2)} |`),
    '',
    `How to read it: one test error near 2 % on ${n.toLocaleString('en')} images has a binomial standard error of about ${(100 * Math.sqrt(0.02 * 0.98 / n)).toFixed(2)} points, and runs of one recipe with other seeds differ by more than that (the sd columns); the difference is paired by seed (same images in both), and a mean difference within about two of its standard errors is no evidence that either library trains better. Wall seconds are one thread each on a shared 2-core machine (speed: bench/results/throughput.md).`,
    '',
  ];
  writeFileSync(join(out, 'torch-accuracy.md'), md.join('\n'));
  process.stdout.write(md.join('\n'));
}

await main();
