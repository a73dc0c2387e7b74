/**
 * Attainable GEMM throughput (GFLOP/s) of each tfjs backend that runs on this
 * machine, and the timings of the kernels that dominate a training step of
 * LeNet-5 and of ResNet-18-style blocks, with the whole step.
 *
 * Each backend configuration runs in its own child process (a process holds one
 * backend, and the wasm thread count is fixed when it starts): cpu, wasm on 1
 * thread, wasm on the machine's available parallelism (at most 8), and the
 * native tfjs-node(-gpu) backends where installed.
 *
 * GEMM: C = A B with A m x k and B k x n, 2 m n k flops; "attainable" is the best
 * of the repetitions (the machine may be shared), the median is shown beside it.
 * Kernels: the forward convolution, the filter gradient (bonsai's wasm kernel and
 * both of its strategies), the input gradient (bonsai's wasm kernel and the stock
 * one it replaces), and the max-pooling gradient, on the layer shapes of
 * LeNet-5 (28x28, batch 64) and of ResNet-18 at 64x64 (batch 8).
 *
 *   npx tsx bench/gemm.ts [--quick] [--out bench/results]
 *
 * Writes `gemm.json` and `gemm.md` to the output folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend, type BackendInfo, byConvolution, byIm2col, stockWasmKernel } from '../core/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const quick = process.argv.includes('--quick');

/** One backend configuration, run in a child process. */
interface Config {
  id: string;
  force: string;
  threads?: number;
}

/** Times of one measurement, in milliseconds. */
interface Timing {
  bestMs: number;
  medianMs: number;
  reps: number;
}

interface GemmRow extends Timing {
  m: number;
  k: number;
  n: number;
  gflops: number;
  gflopsMedian: number;
}

interface KernelRow extends Timing {
  layer: string;
  kernel: string;
  variant: string;
  gflops: number;
}

interface StepRow extends Timing {
  model: string;
  batch: number;
}

interface ConfigResult {
  id: string;
  request: { force: string; threads?: number };
  info: BackendInfo | null;
  error?: string;
  gemm: GemmRow[];
  kernels: KernelRow[];
  steps: StepRow[];
  notes: string[];
}

/**
 * Runs `fn` (which returns a tensor, read back to finish the work) after one
 * warm-up, at least `minReps` times and until `budgetMs` is spent, at most `maxReps`.
 */
function time(fn: () => tf.Tensor | tf.TensorInfo[], minReps: number, maxReps: number, budgetMs: number): Timing {
  const finish = (out: tf.Tensor | tf.TensorInfo[]) => {
    if (out instanceof tf.Tensor) {
      out.dataSync();
      out.dispose();
    }
  };
  finish(fn());
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (times.length < maxReps && performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    finish(fn());
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { bestMs: times[0], medianMs: times[times.length >> 1], reps: times.length };
}

/** Variants of a kernel timing: what the backend runs, and the alternatives measured on wasm. */
const IN_USE = 'in use';
const BY_CONV = 'strategy: convolution of x^T with dy^T';
const IM2COL = 'strategy: im2col + matMul';
const STOCK = 'stock tfjs-backend-wasm';

const GEMM_SIZES: [number, number, number][] = [[128, 784, 300], [512, 512, 512], [1024, 1024, 1024]];

/** [layer, input NHWC, filter, stride, padding] */
type ConvLayer = [string, [number, number, number, number], [number, number, number, number], number, 'same' | 'valid'];
const CONV_LAYERS: ConvLayer[] = [
  ['LeNet-5 conv1 5x5 same', [64, 28, 28, 1], [5, 5, 1, 6], 1, 'same'],
  ['LeNet-5 conv2 5x5 valid', [64, 14, 14, 6], [5, 5, 6, 16], 1, 'valid'],
  ['ResNet-18 stem 7x7/2', [8, 64, 64, 3], [7, 7, 3, 64], 2, 'same'],
  ['ResNet-18 layer1 3x3', [8, 16, 16, 64], [3, 3, 64, 64], 1, 'same'],
  ['ResNet-18 layer2 3x3/2', [8, 16, 16, 64], [3, 3, 64, 128], 2, 'same'],
  ['ResNet-18 layer2 1x1/2 projection', [8, 16, 16, 64], [1, 1, 64, 128], 2, 'same'],
  ['ResNet-18 layer3 3x3', [8, 4, 4, 256], [3, 3, 256, 256], 1, 'same'],
  ['ResNet-18 layer4 3x3', [8, 2, 2, 512], [3, 3, 512, 512], 1, 'same'],
];
/** [layer, input NHWC, window, stride, padding] */
type PoolLayer = [string, [number, number, number, number], number, number, 'same' | 'valid'];
const POOL_LAYERS: PoolLayer[] = [
  ['LeNet-5 pool1 2x2/2', [64, 28, 28, 6], 2, 2, 'valid'],
  ['ResNet-18 stem pool 3x3/2', [8, 32, 32, 64], 3, 2, 'same'],
];

/** Deterministic pseudo-random tensor (sin of a scaled index), no RNG state involved. */
function filled(shape: number[], phase: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.618 + phase)), shape);
}

function gemm(result: ConfigResult): void {
  for (const [m, k, n] of GEMM_SIZES) {
    const a = filled([m, k], 1);
    const b = filled([k, n], 2);
    const flops = 2 * m * n * k;
    // cpu runs 1024^3 in seconds: fewer repetitions there.
    const heavy = result.id === 'cpu' && m * n * k > 1e8;
    const t = time(() => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), heavy ? 2 : 5, quick ? 5 : 30, quick ? 500 : 3000);
    result.gemm.push({ m, k, n, ...t, gflops: flops / t.bestMs / 1e6, gflopsMedian: flops / t.medianMs / 1e6 });
    tf.dispose([a, b]);
  }
}

function kernels(result: ConfigResult): void {
  const wasm = tf.getBackend() === 'wasm';
  const backend = tf.backend();
  const reps = (slow: boolean): [number, number, number] => (slow ? [1, 2, 0] : quick ? [3, 5, 300] : [5, 15, 1500]);
  for (const [layer, xShape, fShape, stride, pad] of CONV_LAYERS) {
    // cpu's filter gradient takes minutes on the ResNet shapes: LeNet only there.
    if (result.id === 'cpu' && layer.startsWith('ResNet')) continue;
    const info = tf.backend_util.computeConv2DInfo(xShape, fShape, stride, 1, pad);
    const flops = 2 * info.outShape.reduce((a, b) => a * b, 1) * fShape[0] * fShape[1] * fShape[2];
    const x = filled(xShape, 1);
    const w = filled(fShape, 2);
    const dy = filled(info.outShape, 3);
    const filterAttrs = { strides: stride, pad, dataFormat: 'NHWC', filterShape: fShape } as unknown as tf.NamedAttrMap;
    const inputAttrs = { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape } as unknown as tf.NamedAttrMap;
    const slow = result.id === 'cpu';
    const add = (kernel: string, variant: string, fn: () => tf.Tensor | tf.TensorInfo[]) => {
      const t = time(fn, ...reps(slow && kernel !== 'Conv2D'));
      result.kernels.push({ layer, kernel, variant, ...t, gflops: flops / t.bestMs / 1e6 });
    };
    add('Conv2D', IN_USE, () => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad));
    add('Conv2DBackpropFilter', IN_USE,
      () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, filterAttrs) as tf.Tensor);
    if (wasm) {
      for (const [variant, strategy] of [[BY_CONV, byConvolution], [IM2COL, byIm2col]] as const) {
        add('Conv2DBackpropFilter', variant, () => {
          const out = strategy({ inputs: { x, dy }, backend, attrs: filterAttrs });
          (backend as BackendWasm).disposeData(out.dataId);
          return [];
        });
      }
    }
    add('Conv2DBackpropInput', IN_USE,
      () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, inputAttrs) as tf.Tensor);
    const stock = wasm ? stockWasmKernel('Conv2DBackpropInput') : undefined;
    if (stock !== undefined) {
      stock.setupFunc?.(backend);
      add('Conv2DBackpropInput', STOCK, () => {
        const out = stock.kernelFunc({ inputs: { dy, filter: w }, backend, attrs: inputAttrs }) as tf.TensorInfo;
        (backend as BackendWasm).disposeData(out.dataId);
        return [];
      });
    }
    tf.dispose([x, w, dy]);
  }
  for (const [layer, xShape, window, stride, pad] of POOL_LAYERS) {
    if (result.id === 'cpu' && layer.startsWith('ResNet')) continue;
    const info = tf.backend_util.computePool2DInfo(xShape, window, stride, 1, pad);
    const x = filled(xShape, 4);
    const dy = filled(info.outShape, 5);
    const attrs = { filterSize: window, strides: stride, pad } as unknown as tf.NamedAttrMap;
    const add = (variant: string, fn: () => tf.Tensor | tf.TensorInfo[]) => {
      const t = time(fn, ...reps(false));
      result.kernels.push({ layer, kernel: 'MaxPoolGrad', variant, ...t, gflops: 0 });
    };
    add(IN_USE,
      () => tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: dy }, attrs) as tf.Tensor);
    const stock = wasm ? stockWasmKernel('MaxPoolGrad') : undefined;
    if (stock !== undefined) {
      stock.setupFunc?.(backend);
      add(STOCK, () => {
        const out = stock.kernelFunc({ inputs: { dy, input: x, output: dy }, backend, attrs }) as tf.TensorInfo;
        (backend as BackendWasm).disposeData(out.dataId);
        return [];
      });
    }
    tf.dispose([x, dy]);
  }
}

type Params = Record<string, tf.Variable>;

function variables(shapes: Record<string, number[]>): Params {
  return Object.fromEntries(Object.entries(shapes).map(([k, s], i) => {
    const t = filled(s, i);
    const v = tf.variable(tf.mul(t, k.startsWith('g') ? 0 : 0.1).add(k.startsWith('g') ? 1 : 0));
    t.dispose();
    return [k, v];
  }));
}

/** LeNet-5 (28x28x1): conv 5x5x6 same, max pool, conv 5x5x16 valid, max pool, dense 120, 84, 10; leaky ReLU 0.01. */
function lenet5(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  const act = (t: tf.Tensor, b: tf.Tensor) => tf.leakyRelu(tf.add(t, b), 0.01) as tf.Tensor4D;
  let h = tf.maxPool(act(tf.conv2d(x, p.c1 as tf.Tensor4D, 1, 'same'), p.b1), 2, 2, 'valid');
  h = tf.maxPool(act(tf.conv2d(h, p.c2 as tf.Tensor4D, 1, 'valid'), p.b2), 2, 2, 'valid');
  let f = tf.reshape(h, [x.shape[0], -1]) as tf.Tensor2D;
  f = tf.leakyRelu(tf.add(tf.matMul(f, p.d1 as tf.Tensor2D), p.bd1), 0.01);
  f = tf.leakyRelu(tf.add(tf.matMul(f, p.d2 as tf.Tensor2D), p.bd2), 0.01);
  return tf.add(tf.matMul(f, p.d3 as tf.Tensor2D), p.bd3);
}

function batchNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5) as tf.Tensor4D;
}

/** ResNet-18's stem, stem pool, one basic block of layer1 and the strided block of layer2 (with projection), global average pool. */
function resnetBlocks(p: Params, x: tf.Tensor4D): tf.Tensor2D {
  const conv = (h: tf.Tensor4D, k: string, s: number) => tf.conv2d(h, p[k] as tf.Tensor4D, s, 'same');
  let h: tf.Tensor4D = tf.maxPool(tf.leakyRelu(batchNorm(conv(x, 'stem', 2), p.g0, p.b0), 0.01) as tf.Tensor4D, 3, 2, 'same');
  const y = batchNorm(conv(tf.leakyRelu(batchNorm(conv(h, 'k1', 1), p.g1, p.b1), 0.01), 'k2', 1), p.g2, p.b2);
  h = tf.leakyRelu(tf.add(h, y), 0.01);
  const z = batchNorm(conv(tf.leakyRelu(batchNorm(conv(h, 'k3', 2), p.g3, p.b3), 0.01), 'k4', 1), p.g4, p.b4);
  h = tf.leakyRelu(tf.add(z, batchNorm(conv(h, 'proj', 2), p.g5, p.b5)), 0.01);
  return tf.add(tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, p.fc as tf.Tensor2D), p.fcb);
}

function steps(result: ConfigResult): void {
  const models: { model: string; batch: number; cpuOk: boolean; shapes: Record<string, number[]>; input: number[]; net: (p: Params, x: tf.Tensor4D) => tf.Tensor2D }[] = [
    {
      model: 'LeNet-5 (28x28x1)', batch: 64, cpuOk: true,
      shapes: { c1: [5, 5, 1, 6], b1: [6], c2: [5, 5, 6, 16], b2: [16], d1: [400, 120], bd1: [120], d2: [120, 84], bd2: [84], d3: [84, 10], bd3: [10] },
      input: [64, 28, 28, 1], net: lenet5,
    },
    {
      model: 'ResNet-18 stem + layer1 block + layer2 block (64x64x3)', batch: 8, cpuOk: false,
      shapes: {
        stem: [7, 7, 3, 64], g0: [64], b0: [64], k1: [3, 3, 64, 64], g1: [64], b1: [64], k2: [3, 3, 64, 64], g2: [64], b2: [64],
        k3: [3, 3, 64, 128], g3: [128], b3: [128], k4: [3, 3, 128, 128], g4: [128], b4: [128], proj: [1, 1, 64, 128], g5: [128], b5: [128],
        fc: [128, 10], fcb: [10],
      },
      input: [8, 64, 64, 3], net: resnetBlocks,
    },
  ];
  for (const m of models) {
    if (result.id === 'cpu' && !m.cpuOk) {
      result.notes.push(`${m.model}: not run on cpu (its filter gradients take minutes)`);
      continue;
    }
    const p = variables(m.shapes);
    const x = filled(m.input, 7) as tf.Tensor4D;
    const labels = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: m.batch }, (_, i) => i % 10), 'int32'), 10));
    const opt = tf.train.momentum(0.01, 0.9);
    const t = time(() => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(labels, m.net(p, x)) as tf.Scalar, true, Object.values(p));
      return loss as tf.Scalar;
    }, result.id === 'cpu' ? 2 : 5, quick ? 5 : 20, quick ? 1000 : 5000);
    result.steps.push({ model: m.model, batch: m.batch, ...t });
    opt.dispose();
    tf.dispose([...Object.values(p), x, labels]);
  }
}

async function worker(config: Config): Promise<ConfigResult> {
  const result: ConfigResult = {
    id: config.id, request: { force: config.force, ...(config.threads ? { threads: config.threads } : {}) },
    info: null, gemm: [], kernels: [], steps: [], notes: [],
  };
  try {
    result.info = await initBackend({ force: config.force, ...(config.threads ? { threads: config.threads } : {}) });
  } catch (err) {
    result.error = String((err as Error).message ?? err);
    return result;
  }
  gemm(result);
  kernels(result);
  steps(result);
  return result;
}

function configs(): Config[] {
  const threads = Math.min(8, availableParallelism());
  return [
    { id: 'tensorflow-gpu', force: 'tensorflow-gpu' },
    { id: 'tensorflow', force: 'tensorflow' },
    { id: 'wasm-1', force: 'wasm', threads: 1 },
    ...(threads > 1 ? [{ id: `wasm-${threads}`, force: 'wasm', threads }] : []),
    { id: 'cpu', force: 'cpu' },
  ];
}

/** A child's stderr without the minified source lines that V8 echoes around an exception. */
function readable(stderr: string): string {
  return stderr.split('\n').filter((l) => l.length < 300 && !/^\s*\^*\s*$/.test(l)).join('\n').slice(0, 3000);
}

const fmt = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : '');

function markdown(report: { command: string; date: string; machine: Record<string, unknown>; results: ConfigResult[] }): string {
  const ran = report.results.filter((r) => r.info !== null);
  const lines = [
    '# GEMM and training kernels by backend',
    '',
    `Command: \`${report.command}\`. ${report.date}.`,
    '',
    `Machine: ${String(report.machine.cpu)}, ${String(report.machine.cores)} cores (available parallelism ${String(report.machine.availableParallelism)}), Node ${String(report.machine.node)}.`,
    `1-minute load average before and after: ${(report.machine.loadBefore as number[]).map((v) => v.toFixed(2)).join(', ')} / ${(report.machine.loadAfter as number[]).map((v) => v.toFixed(2)).join(', ')}`,
    '(the machine is shared: "best" is the attainable figure, the median shows the interference).',
    '',
    '## Backends',
    '',
    '| config | backend | package | threads | SIMD | versions | initBackend reason |',
    '|---|---|---|---|---|---|---|',
    ...report.results.map((r) => r.info
      ? `| ${r.id} | ${r.info.name} | ${r.info.package} | ${r.info.threads} | ${r.info.simd === undefined ? '' : r.info.simd ? 'yes' : 'no'} | ${Object.entries(r.info.versions).map(([k, v]) => `${k} ${v}`).join(', ')} | ${r.info.reason} |`
      : `| ${r.id} | not available | | | | | ${(r.error ?? '').replace(/\n/g, ' ')} |`),
    '',
    '## GEMM (C = A B, A m x k, B k x n), GFLOP/s',
    '',
    `| m x k x n | ${ran.map((r) => `${r.id} best | ${r.id} median`).join(' | ')} |`,
    `|---|${ran.map(() => '---|---').join('|')}|`,
    ...GEMM_SIZES.map(([m, k, n]) => `| ${m} x ${k} x ${n} | ${ran.map((r) => {
      const g = r.gemm.find((x) => x.m === m && x.k === k && x.n === n);
      return g ? `${fmt(g.gflops)} | ${fmt(g.gflopsMedian)}` : ' | ';
    }).join(' | ')} |`),
    '',
    '## Training kernels, milliseconds (best / median)',
    '',
    '"in use" is what the backend runs: on wasm, bonsai\'s Conv2DBackpropFilter (im2col + matMul for stride 1 with',
    '256+ input channels, else a convolution of x^T with the stride-dilated dy^T; both strategies are timed below),',
    'Conv2DBackpropInput (an XNNPACK convolution of the dilated dy with the rotated filter)',
    'and MaxPoolGrad (first maximum, one pass over the heap); the stock wasm MaxPoolGrad is wrong for all-negative',
    'windows and is timed only for comparison. In parentheses: GFLOP/s, counting the forward convolution\'s',
    '2 x output size x KH x KW x Cin flops (each gradient costs the same). cpu runs the LeNet-5 shapes only.',
    '',
    '| layer | kernel | variant | ' + ran.map((r) => r.id).join(' | ') + ' |',
    '|---|---|---|' + ran.map(() => '---').join('|') + '|',
  ];
  const keys = new Map<string, { layer: string; kernel: string; variant: string }>();
  for (const r of ran) for (const k of r.kernels) keys.set(`${k.layer}|${k.kernel}|${k.variant}`, k);
  for (const key of keys.values()) {
    const cells = ran.map((r) => {
      const k = r.kernels.find((x) => x.layer === key.layer && x.kernel === key.kernel && x.variant === key.variant);
      return k ? `${fmt(k.bestMs, 2)} / ${fmt(k.medianMs, 2)}${k.gflops > 0 ? ` (${fmt(k.gflops)})` : ''}` : '';
    });
    lines.push(`| ${key.layer} | ${key.kernel} | ${key.variant} | ${cells.join(' | ')} |`);
  }
  lines.push('', '## Training step (forward, backward, momentum SGD update), milliseconds (best / median)', '',
    '| model | batch | ' + ran.map((r) => r.id).join(' | ') + ' |', '|---|---|' + ran.map(() => '---').join('|') + '|');
  for (const model of [...new Set(ran.flatMap((r) => r.steps.map((s) => `${s.model}|${s.batch}`)))]) {
    const [name, batch] = model.split('|');
    lines.push(`| ${name} | ${batch} | ${ran.map((r) => {
      const s = r.steps.find((x) => x.model === name);
      return s ? `${fmt(s.bestMs)} / ${fmt(s.medianMs)}` : 'not run';
    }).join(' | ')} |`);
  }
  const notes = ran.flatMap((r) => r.notes.map((n) => `- ${r.id}: ${n}`));
  if (notes.length > 0) lines.push('', 'Notes:', '', ...notes);
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const workerAt = process.argv.indexOf('--worker');
  if (workerAt >= 0) {
    const config = JSON.parse(process.argv[workerAt + 1]) as Config;
    const result = await worker(config);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  const out = arg('out', 'bench/results');
  const loadBefore = loadavg();
  const results: ConfigResult[] = [];
  for (const config of configs()) {
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--worker', JSON.stringify(config), ...(quick ? ['--quick'] : [])], {
      encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, BONSAI_BACKEND: '', BONSAI_THREADS: '' },
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line === undefined) {
      results.push({ id: config.id, request: { force: config.force }, info: null, error: `worker exited ${child.status}: ${readable(child.stderr)}`, gemm: [], kernels: [], steps: [], notes: [] });
    } else {
      results.push(JSON.parse(line.slice('RESULT '.length)) as ConfigResult);
    }
    const r = results[results.length - 1];
    console.log(`${config.id}: ${r.info ? `${r.gemm.map((g) => `${g.m}x${g.k}x${g.n} ${fmt(g.gflops)} GFLOP/s`).join(', ')}` : r.error} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  const report = {
    command: `npx tsx bench/gemm.ts${quick ? ' --quick' : ''}`,
    date: new Date().toISOString().slice(0, 10),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, availableParallelism: availableParallelism(),
      node: process.versions.node, platform: `${process.platform} ${process.arch}`, loadBefore, loadAfter: loadavg(),
    },
    results,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'gemm.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(out, 'gemm.md'), markdown(report));
  console.log(`wrote ${join(out, 'gemm.json')} and ${join(out, 'gemm.md')}`);
}

await main();
