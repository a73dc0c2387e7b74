/**
 * Where the time of one LeNet-300-100 training step goes on the default backend,
 * for the taped step (tfjs's gradient tape, core/train/step.ts `tapedBackward`) and
 * the hand-written one (core/train/denseChain.ts), measured in alternating rounds
 * in one process so that both see the same load from other processes. Every kernel
 * is timed (wrapped); the rest of a step is tfjs's own overhead (op dispatch, the
 * tape, tidy, tensor bookkeeping) and the trainer's (batches, the loss read-back).
 *
 * Run: npx tsx bench/profileTrain.ts [--steps N] [--rounds R] [--density D] [--detail]
 * (`--detail` splits kernels by input shapes.)
 */
import { loadavg } from 'node:os';
import * as tf from '../core/tf.ts';
import { initBackend } from '../core/backend.ts';
import { createModel } from '../core/models/index.ts';
import { makeDataset } from '../core/data/dataset.ts';
import { classificationTask } from '../core/train/task.ts';
import { Trainer } from '../core/train/trainer.ts';
import { arg } from './args.ts';

const steps = arg('steps', 50);
const rounds = arg('rounds', 6);
const density = arg('density', 1);
const detail = process.argv.includes('--detail');
const MODES = ['taped', 'hand-written'] as const;
type Mode = (typeof MODES)[number];

const info = await initBackend();
const backendName = tf.getBackend();
const byKernel: Record<Mode, Map<string, { ms: number; calls: number }>> = { taped: new Map(), 'hand-written': new Map() };
let mode: Mode = 'taped';
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
          const inputs = Object.values(args.inputs as Record<string, tf.TensorInfo>).map((t) => `[${t.shape.join(',')}]`).join('x');
          key = `${k.kernelName} ${inputs}`;
        }
        const s = byKernel[mode].get(key) ?? { ms: 0, calls: 0 };
        s.ms += performance.now() - t0;
        s.calls++;
        byKernel[mode].set(key, s);
      }
      return out;
    }) as tf.KernelFunc,
  });
}

const n = 64 * steps;
const data = makeDataset(Float32Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 255) / 255), Int32Array.from({ length: n }, (_, i) => i % 10), [28, 28, 1]);
const trainers = Object.fromEntries(MODES.map((m) => {
  const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1, options: density < 1 ? { density } : {} });
  const task = m === 'taped' ? { ...classificationTask(), lossKind: undefined } : classificationTask();
  return [m, new Trainer({ model, task, batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.01, momentum: 0.9 } })];
})) as Record<Mode, Trainer<ReturnType<typeof makeDataset>>>;

const total: Record<Mode, number> = { taped: 0, 'hand-written': 0 };
// CPU time of this process as well: on a shared machine, wall time also counts the
// time the scheduler gave other processes.
const cpu: Record<Mode, number> = { taped: 0, 'hand-written': 0 };
const load0 = loadavg();
for (let r = -1; r < rounds; r++) {
  for (const m of MODES) {
    mode = m;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    trainers[m].trainEpoch(data, 'bench', r, n);
    const c1 = process.cpuUsage(c0);
    if (r >= 0) {
      total[m] += performance.now() - t0;
      cpu[m] += (c1.user + c1.system) / 1000;
    }
    else byKernel[m].clear(); // round -1 warms up
  }
}
const load1 = loadavg();
const stepsRun = rounds * steps;
console.log(`LeNet-300-100, batch 64, SGD momentum, density ${density}; backend ${info.name} (${info.threads} thread${info.threads === 1 ? '' : 's'}, SIMD ${String(info.simd)})`);
console.log(`${rounds} alternating rounds of ${steps} steps; load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after`);
for (const m of MODES) {
  const perStep = total[m] / stepsRun;
  let kernelMs = 0;
  let calls = 0;
  for (const s of byKernel[m].values()) {
    kernelMs += s.ms;
    calls += s.calls;
  }
  console.log(`\n${m}: ${perStep.toFixed(3)} ms/step, ${(64000 / perStep).toFixed(0)} samples/s (CPU time ${(cpu[m] / stepsRun).toFixed(3)} ms/step); ${(calls / stepsRun).toFixed(1)} kernels/step taking ${(kernelMs / stepsRun).toFixed(3)} ms, ${((total[m] - kernelMs) / stepsRun).toFixed(3)} ms/step outside kernels`);
  for (const [name, s] of [...byKernel[m].entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, detail ? 30 : 14)) {
    console.log(`  ${name.padEnd(detail ? 44 : 18)} ${(s.ms / stepsRun).toFixed(3).padStart(7)} ms/step ${(s.calls / stepsRun).toFixed(1).padStart(5)} calls/step`);
  }
}
console.log(`\nhand-written / taped: wall time ${(total['hand-written'] / total.taped).toFixed(2)}, CPU time ${(cpu['hand-written'] / cpu.taped).toFixed(2)}`);
for (const t of Object.values(trainers)) {
  t.dispose();
  t.model.dispose();
}
