/**
 * Sparse against dense inference on the default backend (issue 12, "Sparse serving"):
 *
 * 1. one LeNet-300-100 layer (784 x 300) at kernel densities from 5 % to 60 %, at
 *    batch 1, 32 and 128: the WebAssembly SIMD kernel (core/sparse/sparse-chain.ts)
 *    and the JS CSR kernel (core/sparse/csr.ts) against tfjs's matMul with the
 *    same host-to-host work (upload, matMul + bias, read back). The highest
 *    density where the WebAssembly kernel wins at every batch is the threshold
 *    `SPARSE_MAX_DENSITY` (core/sparse/sparse-inference.ts) is set from;
 * 2. LeNet-300-100 at 10 % density, batch 1 to 128: the sparse plan against
 *    `model.predict` (tfjs, W*M dense), samples per second; the largest batch
 *    where the plan wins is `SPARSE_MAX_BATCH`;
 * 3. LeNet-300-100 training (the trainer's step, batch 64, SGD with momentum) at
 *    kernel densities from 5 % to 60 %: the products over the live connections
 *    (core/train/sparse-fc.ts) against the same step with dense products
 *    (`sparseTraining.maxDensity` 0), samples per second. The highest density
 *    where the live-connection step wins is what `SPARSE_TRAIN_MAX_DENSITY` is
 *    set from.
 *
 * Inputs are uniform random (no zero pixels: the sample-by-sample kernel's skip
 * of zero inputs, which real digits would profit from, does not help here).
 *
 *   npm run bench:sparse [-- --seconds 0.5 --out bench/results]
 *
 * Writes sparse.json and sparse.md.
 */
import { cpus, loadavg } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  tf, initBackend, createModel, csrFromMasked, csrMatMul, SparseChain, sparseLayerFromMasked, compileSparseInference, SPARSE_MAX_DENSITY,
  SPARSE_TRAIN_MAX_DENSITY, sparseTraining, Trainer, classificationTask, makeDataset,
} from '../core/index.ts';
import { arg } from './args.ts';

const SECONDS = Number(arg('seconds', '0.5'));
const OUT = arg('out', 'bench/results');
const DENSITIES = [0.05, 0.1, 0.2, 0.3, 0.4, 0.6];
const BATCHES = [1, 32, 128];
const MODEL_BATCHES = [1, 8, 32, 64, 128];

/**
 * Calls per second of each of `fns`, best of three rounds: the rounds of the
 * functions alternate, so that all of them see the same load (the machine is
 * shared). Each round of each function lasts `SECONDS` / 3.
 */
function rates(fns: Array<() => void>): number[] {
  for (const fn of fns) fn();
  const best = fns.map(() => 0);
  for (let round = 0; round < 3; round++) {
    fns.forEach((fn, i) => {
      let calls = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < (SECONDS * 1000) / 3 || calls < 2) {
        fn();
        calls++;
      }
      best[i] = Math.max(best[i], calls / ((performance.now() - t0) / 1000));
    });
  }
  return best;
}

/** Uniform random values in [0, 1), seeded. */
function uniform(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

interface LayerRow { density: number; batch: number; wasmPerSec: number; csrPerSec: number; densePerSec: number; speedup: number }
interface ModelRow { batch: number; sparseSamplesPerSec: number; denseSamplesPerSec: number; speedup: number }

/** Part 1: one 784 x 300 layer, the sparse kernels against tfjs matMul, samples per second. */
function layerSweep(): LayerRow[] {
  const [rows, cols] = [784, 300];
  const w = uniform(rows * cols, 1).map((v) => v - 0.5);
  const bias = uniform(cols, 2);
  const kernelOf = (mask: Float32Array): tf.Tensor2D => tf.tensor2d(w.map((v, i) => v * mask[i]), [rows, cols]);
  const out: LayerRow[] = [];
  for (const density of DENSITIES) {
    const mask = uniform(rows * cols, 3).map((v) => (v < density ? 1 : 0));
    const csr = csrFromMasked(w, mask, rows, cols);
    const chain = new SparseChain([sparseLayerFromMasked(w, mask, bias, rows, cols)], false);
    const kernel = kernelOf(mask);
    const b = tf.tensor1d(bias);
    for (const batch of BATCHES) {
      const x = uniform(batch * rows, 4);
      const [wasmPerSec, csrPerSec, densePerSec] = rates([
        () => chain.run(x, batch),
        () => csrMatMul(x, batch, csr, bias),
        () => {
          const y = tf.tidy(() => tf.matMul(tf.tensor2d(x, [batch, rows]), kernel).add(b));
          y.dataSync();
          y.dispose();
        },
      ]).map((r) => batch * r);
      out.push({ density, batch, wasmPerSec, csrPerSec, densePerSec, speedup: wasmPerSec / densePerSec });
      process.stderr.write(`layer 784x300 density ${density} batch ${batch}: wasm ${wasmPerSec.toFixed(0)}/s, csr ${csrPerSec.toFixed(0)}/s, tfjs ${densePerSec.toFixed(0)}/s\n`);
    }
    tf.dispose([kernel, b]);
  }
  return out;
}

/** Part 2: LeNet-300-100 at 10 % density, the sparse plan against `model.predict`. */
function modelRates(): { rows: ModelRow[]; density: number } {
  const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 7 + i).less(0.1).toFloat())));
  const plan = compileSparseInference(model);
  if (plan === null) throw new Error('no sparse plan at 10 % density');
  const rows: ModelRow[] = [];
  for (const batch of MODEL_BATCHES) {
    const x = uniform(batch * 784, 5);
    const xt = tf.tensor(x, [batch, 28, 28, 1]);
    const [sparse, dense] = rates([
      () => plan.probabilities(x, batch),
      () => {
        const y = model.predict(xt);
        y.dataSync();
        y.dispose();
      },
    ]).map((r) => batch * r);
    xt.dispose();
    rows.push({ batch, sparseSamplesPerSec: sparse, denseSamplesPerSec: dense, speedup: sparse / dense });
    process.stderr.write(`lenet300 10 % batch ${batch}: sparse ${sparse.toFixed(0)}/s, dense ${dense.toFixed(0)}/s\n`);
  }
  const density = model.density();
  plan.dispose();
  model.dispose();
  return { rows, density };
}

interface TrainRow { density: number; sparseSamplesPerSec: number; denseSamplesPerSec: number; speedup: number }

/** Part 3: LeNet-300-100 training steps at each density, live-connection products against dense ones. */
function trainingRates(): TrainRow[] {
  const n = 256;
  const data = makeDataset(uniform(n * 784, 6), Int32Array.from({ length: n }, (_, i) => i % 10), [28, 28, 1]);
  const rows: TrainRow[] = [];
  for (const density of DENSITIES) {
    const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 7 + i).less(density).toFloat())));
    const trainer = new Trainer({ model, task: classificationTask(), batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.01 } });
    const epoch = (maxDensity: number) => () => {
      sparseTraining.maxDensity = maxDensity;
      trainer.trainEpoch(data, 'bench', 1, n);
    };
    const [sparse, dense] = rates([epoch(1), epoch(0)]).map((r) => n * r);
    sparseTraining.maxDensity = SPARSE_TRAIN_MAX_DENSITY;
    rows.push({ density: model.density(), sparseSamplesPerSec: sparse, denseSamplesPerSec: dense, speedup: sparse / dense });
    process.stderr.write(`lenet300 training at density ${density}: live connections ${sparse.toFixed(0)}/s, dense ${dense.toFixed(0)}/s\n`);
    trainer.dispose();
    model.dispose();
  }
  return rows;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const started = new Date();
  const layers = layerSweep();
  const model = modelRates();
  const training = trainingRates();
  const trainWins = training.filter((r) => r.speedup > 1).map((r) => r.density);
  const wins = DENSITIES.filter((d) => layers.every((r) => r.density !== d || r.speedup > 1));
  const result = {
    command: `npm run bench:sparse -- --seconds ${SECONDS}`,
    date: started.toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    backend: { name: backend.name, threads: backend.threads },
    threshold: { inCode: SPARSE_MAX_DENSITY, highestDensityWinningAtEveryBatch: wins.length > 0 ? Math.max(...wins) : null },
    trainingThreshold: { inCode: SPARSE_TRAIN_MAX_DENSITY, highestDensityWinning: trainWins.length > 0 ? Math.max(...trainWins) : null },
    layers,
    model,
    training,
  };
  await mkdir(OUT, { recursive: true });
  await writeFile(join(OUT, 'sparse.json'), `${JSON.stringify(result, null, 2)}\n`);
  const f = (v: number): string => v.toFixed(0);
  const md = [
    '# Sparse against dense inference and training',
    '',
    `Command: \`${result.command}\` (${result.date.slice(0, 10)}). Backend \`${backend.name}\` (${backend.threads} threads); ${result.machine.cpus} cores (${result.machine.cpu ?? 'unknown CPU'}), Node ${result.machine.node}.`,
    `The machine is shared with other long-running experiments: 1-minute load average ${result.machine.loadavgAtEnd.join(', ')} at the end, so rates are the best of three short rounds (the rounds of the compared kernels alternate) and move between runs; compare within a row.`,
    '',
    '## One 784 x 300 layer: the sparse kernels against tfjs matMul, samples/s',
    '',
    'WebAssembly: the SIMD kernel the plan runs (core/sparse/sparse-chain.ts), transposes in and out included; JS CSR: the scalar kernel of core/sparse/csr.ts.',
    '',
    '| density | batch | WebAssembly | JS CSR | tfjs dense | WebAssembly / dense | JS CSR / dense |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...layers.map((r) => `| ${r.density} | ${r.batch} | ${f(r.wasmPerSec)} | ${f(r.csrPerSec)} | ${f(r.densePerSec)} | ${r.speedup.toFixed(2)} | ${(r.csrPerSec / r.densePerSec).toFixed(2)} |`),
    '',
    `Highest density where the WebAssembly kernel wins at every batch: ${result.threshold.highestDensityWinningAtEveryBatch ?? 'none'}; the serving threshold in code (SPARSE_MAX_DENSITY): ${SPARSE_MAX_DENSITY}.`,
    '',
    `## LeNet-300-100 at ${(model.density * 100).toFixed(1)} % density: sparse plan against model.predict, samples/s`,
    '',
    '| batch | sparse | dense (tfjs, W*M) | sparse / dense |',
    '|---:|---:|---:|---:|',
    ...model.rows.map((r) => `| ${r.batch} | ${f(r.sparseSamplesPerSec)} | ${f(r.denseSamplesPerSec)} | ${r.speedup.toFixed(2)} |`),
    '',
    '## LeNet-300-100 training by kernel density: live-connection products against dense ones, samples/s',
    '',
    'The trainer\'s step (hand-written backward pass, batch 64, SGD with momentum 0.9, masked update) on the same model, with the products of core/train/sparse-fc.ts and with tfjs\'s dense products (W*M), in alternating rounds; every kernel at the density of the row.',
    '',
    '| density | live connections | dense products | live / dense |',
    '|---:|---:|---:|---:|',
    ...training.map((r) => `| ${r.density.toFixed(3)} | ${f(r.sparseSamplesPerSec)} | ${f(r.denseSamplesPerSec)} | ${r.speedup.toFixed(2)} |`),
    '',
    `Highest density where the live-connection step wins: ${result.trainingThreshold.highestDensityWinning?.toFixed(3) ?? 'none'}; the threshold in code (SPARSE_TRAIN_MAX_DENSITY): ${SPARSE_TRAIN_MAX_DENSITY}.`,
    '',
  ].join('\n');
  await writeFile(join(OUT, 'sparse.md'), md);
  process.stdout.write(md);
}

await main();
