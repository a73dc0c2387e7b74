/**
 * Where the time of one LeNet-300-100 training step goes on the default backend,
 * for the taped step (tfjs's gradient tape, core/train/step.ts `tapedBackward`) and
 * the hand-written one (core/train/dense-chain.ts), measured in alternating rounds
 * in one process so that both see the same load from other processes. Every kernel
 * is timed (wrapped); the rest of a step is tfjs's own overhead (op dispatch, the
 * tape, tidy, tensor bookkeeping) and the trainer's (batches, the loss read-back).
 *
 * Run: npx tsx bench/profile-train.ts [--arch lenet300|lenet5|resnet18] [--steps N] [--rounds R] [--density D] [--detail] [--write]
 * (`--detail` splits kernels by input shapes; `--write` writes bench/results/profile-train.md,
 * or profile-train-<arch>.md for another architecture. The hand-written step covers
 * fully connected layers only: for a convolutional network both modes tape the convolutions.)
 */
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { tf, initBackend, createModel, makeDataset, classificationTask, Trainer } from '../core/index.ts';
import { arg } from './args.ts';

const steps = arg('steps', 10);
const rounds = arg('rounds', 30);
const density = arg('density', 1);
const arch = process.argv.includes('--arch') ? process.argv[process.argv.indexOf('--arch') + 1] : 'lenet300';
if (arch !== 'lenet300' && arch !== 'lenet5' && arch !== 'resnet18') throw new Error(`--arch must be lenet300, lenet5 or resnet18, got '${arch}'`);
/** MNIST's shape, or 32x32x3 for ResNet-18 (as bench/throughput.ts). */
const inputShape = arch === 'resnet18' ? [32, 32, 3] : [28, 28, 1];
const perSample = inputShape.reduce((a, b) => a * b, 1);
const detail = process.argv.includes('--detail');
const MODES = ['taped', 'hand-written'] as const;
type Mode = (typeof MODES)[number];

const info = await initBackend();
const backendName = tf.getBackend();
interface KernelTime { ms: number; calls: number; bestMs: number }
/** Per kernel: total time and calls, and its time per step in the round where it was fastest. */
const byKernel: Record<Mode, Map<string, KernelTime>> = { taped: new Map(), 'hand-written': new Map() };
/** Kernel time of the current round. */
const thisRound = new Map<string, { ms: number; calls: number }>();
let depth = 0;
for (const k of tf.getKernelsForBackend(backendName)) {
  const f = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, backendName);
  tf.registerKernel({
    ...k,
    kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
      const t0 = performance.now();
      depth++;
      const out = f(args);
      depth--;
      if (depth === 0) {
        let key = k.kernelName;
        if (detail) {
          const inputs = Object.values(args.inputs as Record<string, tf.TensorInfo | undefined>).filter((t): t is tf.TensorInfo => t !== undefined).map((t) => `[${t.shape.join(',')}]`).join('x');
          key = `${k.kernelName} ${inputs}`;
        }
        const s = thisRound.get(key) ?? { ms: 0, calls: 0 };
        s.ms += performance.now() - t0;
        s.calls++;
        thisRound.set(key, s);
      }
      return out;
    }) as tf.KernelFunc,
  });
}

const n = 64 * steps;
const data = makeDataset(Float32Array.from({ length: n * perSample }, (_, i) => ((i * 7919) % 255) / 255), Int32Array.from({ length: n }, (_, i) => i % 10), inputShape);
const trainers = Object.fromEntries(MODES.map((m) => {
  const model = createModel({ arch, inputShape, numClasses: 10, seed: 1, options: density < 1 ? { density } : {} });
  const task = m === 'taped' ? { ...classificationTask(), lossKind: undefined } : classificationTask();
  return [m, new Trainer({ model, task, batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.01, momentum: 0.9 } })];
})) as Record<Mode, Trainer<ReturnType<typeof makeDataset>>>;

const total: Record<Mode, number> = { taped: 0, 'hand-written': 0 };
// CPU time of this process as well: on a shared machine, wall time also counts the
// time the scheduler gave other processes.
const cpu: Record<Mode, number> = { taped: 0, 'hand-written': 0 };
// And the fastest round: the least disturbed by other processes.
const best: Record<Mode, number> = { taped: Infinity, 'hand-written': Infinity };
const load0 = loadavg();
for (let r = -1; r < rounds; r++) {
  for (const m of MODES) {
    thisRound.clear();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    trainers[m].trainEpoch(data, 'bench', r, n);
    const c1 = process.cpuUsage(c0);
    if (r >= 0) {
      for (const [key, k] of thisRound) {
        const t = byKernel[m].get(key) ?? { ms: 0, calls: 0, bestMs: Infinity };
        t.ms += k.ms;
        t.calls += k.calls;
        t.bestMs = Math.min(t.bestMs, k.ms / steps);
        byKernel[m].set(key, t);
      }
      const ms = performance.now() - t0;
      total[m] += ms;
      best[m] = Math.min(best[m], ms / steps);
      cpu[m] += (c1.user + c1.system) / 1000;
    }
    thisRound.clear(); // round -1 warms up
  }
}
const load1 = loadavg();
const stepsRun = rounds * steps;
const perStep = (m: Mode) => total[m] / stepsRun;
const kernelSum = (m: Mode) => [...byKernel[m].values()].reduce((a, k) => a + k.ms, 0);
const callSum = (m: Mode) => [...byKernel[m].values()].reduce((a, k) => a + k.calls, 0);
const bestSum = (m: Mode) => [...byKernel[m].values()].reduce((a, k) => a + k.bestMs, 0);
const keys = [...new Set(MODES.flatMap((m) => [...byKernel[m].keys()]))]
  .sort((a, b) => (byKernel.taped.get(b)?.bestMs ?? 0) + (byKernel['hand-written'].get(b)?.bestMs ?? 0) - (byKernel.taped.get(a)?.bestMs ?? 0) - (byKernel['hand-written'].get(a)?.bestMs ?? 0));
const cell = (m: Mode, key: string) => {
  const k = byKernel[m].get(key);
  return k ? `${k.bestMs.toFixed(3)} | ${(k.ms / stepsRun).toFixed(3)} | ${(k.calls / stepsRun).toFixed(0)}` : '- | - | 0';
};
const command = `npx tsx bench/profile-train.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
const md = [
  `# Where a ${arch === 'lenet300' ? 'LeNet-300-100' : arch} training step spends its time`,
  '',
  `Made by \`${command}\` on ${new Date().toISOString().slice(0, 10)}: batch 64, SGD with momentum 0.9, kernel density ${density}; backend ${info.name} (${info.threads} thread${info.threads === 1 ? '' : 's'}, SIMD ${String(info.simd)}). ${rounds} rounds of ${steps} steps, alternating between the taped step (tfjs's gradient tape, as every step ran before) and the hand-written one (core/train/dense-chain.ts), in one process.${arch === 'lenet300' ? '' : ' In a convolutional network the hand-written step covers the fully connected layers only; both modes tape the convolutions, so the two columns differ by little more than noise.'}`,
  `1-minute, 5-minute and 15-minute load average before / after: ${load0.map((l) => l.toFixed(2)).join(', ')} / ${load1.map((l) => l.toFixed(2)).join(', ')} (2 shared cores: wall times include time given to other processes; "best" is each figure's fastest round, the least disturbed).`,
  '',
  '| | taped | hand-written | hand-written / taped |',
  '|---|---:|---:|---:|',
  `| ms/step, mean of all rounds | ${perStep('taped').toFixed(3)} | ${perStep('hand-written').toFixed(3)} | ${(perStep('hand-written') / perStep('taped')).toFixed(2)} |`,
  `| ms/step, fastest round | ${best.taped.toFixed(3)} | ${best['hand-written'].toFixed(3)} | ${(best['hand-written'] / best.taped).toFixed(2)} |`,
  `| samples/s, fastest round | ${(64000 / best.taped).toFixed(0)} | ${(64000 / best['hand-written']).toFixed(0)} | |`,
  `| CPU ms/step of this process | ${(cpu.taped / stepsRun).toFixed(3)} | ${(cpu['hand-written'] / stepsRun).toFixed(3)} | ${(cpu['hand-written'] / cpu.taped).toFixed(2)} |`,
  `| kernels/step | ${(callSum('taped') / stepsRun).toFixed(1)} | ${(callSum('hand-written') / stepsRun).toFixed(1)} | |`,
  `| ms/step in kernels (mean) | ${(kernelSum('taped') / stepsRun).toFixed(3)} | ${(kernelSum('hand-written') / stepsRun).toFixed(3)} | |`,
  `| ms/step in kernels (sum of each kernel's best round) | ${bestSum('taped').toFixed(3)} | ${bestSum('hand-written').toFixed(3)} | ${(bestSum('hand-written') / bestSum('taped')).toFixed(2)} |`,
  `| ms/step outside kernels (mean): dispatch, tape, tidy, batches | ${((total.taped - kernelSum('taped')) / stepsRun).toFixed(3)} | ${((total['hand-written'] - kernelSum('hand-written')) / stepsRun).toFixed(3)} | |`,
  '',
  'Per kernel: ms/step in its fastest round | mean ms/step | calls/step.',
  '',
  '| kernel | taped best | mean | calls | hand-written best | mean | calls |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...keys.slice(0, detail ? 40 : 24).map((key) => `| ${key} | ${cell('taped', key)} | ${cell('hand-written', key)} |`),
  '',
].join('\n');
console.log(md);
if (process.argv.includes('--write')) await writeFile(arch === 'lenet300' ? 'bench/results/profile-train.md' : `bench/results/profile-train-${arch}.md`, md);
for (const t of Object.values(trainers)) {
  t.dispose();
  t.model.dispose();
}
