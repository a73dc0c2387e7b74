/**
 * Training and inference throughput of LeNet-300-100, LeNet-5 (MNIST shapes) and
 * ResNet-18 (32x32x3, 10 classes) on every backend that starts here, dense and at
 * 10 % kernel density, with the achieved FLOP/s as a fraction of the machine's
 * attainable GEMM FLOP/s on the same backend (a 512^3 matMul measured in the same run).
 *
 * When a python3 with torch is installed (bench/torch-reference.ts finds it), PyTorch
 * runs the same workloads (bench/torch_reference.py, one thread) right after each of
 * our rows, and the results give the ratio ours / PyTorch; otherwise they say why not.
 *
 * Run: npm run bench:throughput [-- --quick] [--models lenet300,lenet5] [--backends wasm,cpu] [--repeats N] [--python PATH] [--no-torch]
 * Writes bench/results/throughput.json and throughput.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import {
  tf, initBackend, registerWasmKernels, createModel, type MaskedModel, makeDataset, classificationTask, Trainer, TRAIN_FLOPS_FACTOR,
} from '../core/index.ts';
import { arg } from './args.ts';
import { type TorchFigures, type TorchPython, blasName, findTorchPython, runTorchBest } from './torch-reference.ts';

const quick = process.argv.includes('--quick');
const only = arg('models', '').split(',').filter((m) => m !== '');
const MODELS = [
  { arch: 'lenet300', inputShape: [28, 28, 1] },
  { arch: 'lenet5', inputShape: [28, 28, 1] },
  { arch: 'resnet18', inputShape: [32, 32, 3] },
].filter((m) => only.length === 0 || only.includes(m.arch));
const torchPython: TorchPython = process.argv.includes('--no-torch') ? { python: null, reason: 'skipped (--no-torch)' } : findTorchPython(arg('python', '') || undefined);
const torchMissing = torchPython.python === null ? torchPython.reason : '';

function seconds(fn: () => void, minSeconds: number): { perCall: number; calls: number } {
  fn();
  let calls = 0;
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < minSeconds || calls < 3) {
    fn();
    calls++;
  }
  return { perCall: (performance.now() - t0) / 1000 / calls, calls };
}

/**
 * Reads a result to the host and frees it. (Not `tf.tidy(() => t.dataSync())`: tidy
 * walks the typed array it returns element by element, which costs more than the op.)
 */
function readAndDispose(t: tf.Tensor): void {
  t.dataSync();
  t.dispose();
}

function gemmFlops(): number {
  const a = tf.randomNormal([512, 512]);
  const b = tf.randomNormal([512, 512]);
  const { perCall } = seconds(() => readAndDispose(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)), quick ? 0.5 : 2);
  tf.dispose([a, b]);
  return (2 * 512 ** 3) / perCall;
}

function sparsify(model: MaskedModel, density: number): void {
  model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 7 + i).less(density).toFloat())));
}

interface Row {
  backend: string;
  model: string;
  density: number;
  trainSamplesPerSec: number;
  inferBatch1PerSec: number;
  inferBatch128PerSec: number;
  trainGflops: number;
  trainFractionOfGemm: number;
  inferFractionOfGemm: number;
  /** PyTorch on the same workload in the same run (absent when torch is not available). */
  torch?: TorchFigures;
  /** ours / PyTorch of each repeat (median reported). */
  ratios?: { train: number[]; inferBatch1: number[]; inferBatch128: number[] };
  /** Training samples/s of the fastest repeat of each library (PyTorch's varies between processes). */
  fastestTrain?: { ours: number; torch: number };
}

const loadText = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ');
const repeats = Math.max(1, arg('repeats', 1));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Our figures for one model at one density on the current backend. */
function measure(backend: string, m: { arch: string; inputShape: number[] }, density: number, gemm: Record<string, number>): Row {
  const model = createModel({ arch: m.arch, inputShape: m.inputShape, numClasses: 10, seed: 1 });
  if (density < 1) sparsify(model, density);
  const per = m.inputShape.reduce((a, b) => a * b, 1);
  const n = 256;
  const data = makeDataset(Float32Array.from({ length: n * per }, (_, i) => (i * 7919) % 255 / 255), Int32Array.from({ length: n }, (_, i) => i % 10), m.inputShape);
  const trainer = new Trainer({ model, task: classificationTask(), batchSize: 64, seed: 1, optimizer: { kind: 'sgd', learningRate: 0.01 } });
  const budget = quick || backend === 'cpu' ? 64 : n;
  const train = seconds(() => trainer.trainEpoch(data, 'bench', 1, budget), quick ? 1 : 3);
  const trainPerSec = budget / train.perCall;
  const x1 = tf.randomUniform([1, ...m.inputShape]);
  const x128 = tf.randomUniform([128, ...m.inputShape]);
  // Inference as a served version runs it when it has no sparse plan: W*M fixed once (daemon/serving/loader.ts).
  const snapshot = model.snapshotWeights();
  const i1 = seconds(() => readAndDispose(model.predict(x1, snapshot)), quick ? 0.5 : 2);
  const i128 = seconds(() => readAndDispose(model.predict(x128, snapshot)), quick ? 0.5 : 2);
  snapshot.dispose();
  // GEMM measured right beside each model, so that load from other processes affects both alike.
  const attainable = gemmFlops();
  gemm[backend] = Math.max(gemm[backend] ?? 0, attainable);
  const flops = model.flopsPerSample();
  const trainFlops = trainPerSec * flops.dense * TRAIN_FLOPS_FACTOR;
  const row: Row = {
    backend, model: m.arch, density: model.density(), trainSamplesPerSec: trainPerSec,
    inferBatch1PerSec: 1 / i1.perCall, inferBatch128PerSec: 128 / i128.perCall,
    trainGflops: trainFlops / 1e9, trainFractionOfGemm: trainFlops / attainable,
    inferFractionOfGemm: ((128 / i128.perCall) * flops.dense) / attainable,
  };
  tf.dispose([x1, x128]);
  trainer.dispose();
  model.dispose();
  return row;
}
const ratio = (ours: number, theirs: number | undefined) => (theirs ? (ours / theirs).toFixed(2) : '-');
/** The median ratio, and the range when there are several. */
const ratioText = (rs: number[]) => `${median(rs).toFixed(2)}${rs.length > 1 ? ` (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)})` : ''}`;

const threadText = (n: number) => (n === 1 ? 'one thread' : `${n} threads`);

/** The section beside PyTorch: figures, ratios and the GEMM ceiling (or why PyTorch did not run). */
function torchSection(rows: Row[], blas: string, torchGemm: number, oursGemm: number, backendName: string, threads: number, allocator: string): string[] {
  if (torchPython.python === null) {
    return [`PyTorch was not run: ${torchMissing}. Install Debian's \`python3-torch\` (and \`libopenblas0\`, or torch runs on reference BLAS) or pass \`--python PATH\` to compare.`];
  }
  return [
    `PyTorch ${torchPython.torch} (\`${torchPython.python}\`, BLAS: ${blasName(blas)}), ${threads === 1 ? 'one thread as ours (`torch.set_num_threads(1)`)' : `the faster of one thread and ours' ${threads} (\`torch.set_num_threads\`), per figure`}, allocator: ${allocator}, ran \`bench/torch_reference.py\` right after each of our rows: the same masked training step (gradient masked, SGD momentum 0.9, W and momentum re-zeroed, so the forward pass on W computes W*M's numbers) at batch 64 and the same inference at batch 1 and 128, on the same shapes. Ratio = ours / PyTorch (above 1: we are faster)${repeats > 1 ? `; ours and PyTorch ran ${repeats} times one after the other, figures and ratios are medians, the range of the ratios in parentheses` : ''}.`,
    '',
    `The ceiling: the same 512^3 matmul reaches ${torchGemm.toFixed(1)} GFLOP/s in PyTorch (${blasName(blas)}, ${threads === 1 ? 'one thread' : `the faster of one and ${threads} threads`}) and ${oursGemm.toFixed(1)} GFLOP/s on ${backendName} (${threadText(threads)}), a ratio of **${(oursGemm / torchGemm).toFixed(2)}**: the ours / PyTorch ratio of work that both libraries run at their matmul's rate. "% of GEMM" is each library's training FLOP/s (dense, 3x forward) as a share of its own matmul: a row whose ratio is above the ceiling's is one where ours uses its hardware better than PyTorch does (less overhead per op, or the live connections only).`,
    '',
    'Training also as the fastest repeat of each library against the other\'s fastest ("fastest / fastest"). Under glibc\'s default allocator PyTorch\'s steps ran at one of two speeds, up to 4x apart, from one process to the next: blocks above the moving mmap threshold come fresh from the kernel at every step (bench/torch_reference.py fixes the threshold; `--default-allocator` there shows the slow mode).',
    '',
    '| model | density | train ours | train PyTorch | ratio | fastest / fastest | train % of GEMM ours / PyTorch | infer b1 ours | PyTorch | ratio | infer b128 ours | PyTorch | ratio |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.filter((r) => r.torch).map((r) => {
      const t = r.torch as TorchFigures;
      const q = r.ratios as NonNullable<Row['ratios']>;
      // The same FLOPs per sample as ours (dense, 3x forward), at PyTorch's rate.
      const theirShare = (t.trainSamplesPerSec * (r.trainGflops / r.trainSamplesPerSec) / torchGemm) * 100;
      return `| ${r.model} | ${r.density.toFixed(2)} | ${r.trainSamplesPerSec.toFixed(0)} | ${t.trainSamplesPerSec.toFixed(0)} | ${ratioText(q.train)} | ${r.fastestTrain ? (r.fastestTrain.ours / r.fastestTrain.torch).toFixed(2) : '-'} | ${(r.trainFractionOfGemm * 100).toFixed(1)} / ${theirShare.toFixed(1)} | ${r.inferBatch1PerSec.toFixed(0)} | ${t.inferBatch1PerSec.toFixed(0)} | ${ratioText(q.inferBatch1)} | ${r.inferBatch128PerSec.toFixed(0)} | ${t.inferBatch128PerSec.toFixed(0)} | ${ratioText(q.inferBatch128)} |`;
    }),
  ];
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const gemm: Record<string, number> = {};
  /** PyTorch's attainable GEMM (GFLOP/s), best of the run. */
  let torchGemm = 0;
  const loadBefore = loadavg();
  process.stderr.write(torchPython.python ? `PyTorch ${torchPython.torch} (${torchPython.python}) runs the same workloads beside ours\n` : `PyTorch: not available: ${torchMissing}\n`);
  const chosen = await initBackend();
  const backends = arg('backends', '') ? arg('backends', '').split(',') : [...new Set([chosen.name, 'cpu'])];
  for (const backend of backends) {
    await tf.setBackend(backend);
    if (backend === 'wasm') registerWasmKernels();
    for (const m of MODELS) {
      if (backend === 'cpu' && m.arch === 'resnet18' && quick) continue;
      for (const density of [1, 0.1]) {
        // Ours then PyTorch, `repeats` times; each figure is the median over the repeats,
        // and so is each ratio (of the pairs measured one right after the other).
        const ours: Row[] = [];
        const theirs: TorchFigures[] = [];
        for (let rep = 0; rep < repeats; rep++) {
          const r = measure(backend, m, density, gemm);
          ours.push(r);
          process.stderr.write(`${backend} ${m.arch} density ${r.density.toFixed(2)}: train ${r.trainSamplesPerSec.toFixed(0)}/s, infer b1 ${r.inferBatch1PerSec.toFixed(0)}/s, b128 ${r.inferBatch128PerSec.toFixed(0)}/s, ${(r.trainFractionOfGemm * 100).toFixed(1)} % of GEMM\n`);
          // PyTorch right after our row (default backend only), so that both see the same load.
          if (torchPython.python !== null && backend === chosen.name) {
            const t = runTorchBest(torchPython.python, m.arch, { density, seconds: quick ? 1 : 3, threads: chosen.threads });
            theirs.push(t);
            process.stderr.write(`  PyTorch (best of ${t.threadsTried.join(' and ')} threads): train ${t.trainSamplesPerSec.toFixed(0)}/s (ours/PyTorch ${ratio(r.trainSamplesPerSec, t.trainSamplesPerSec)}), infer b1 ${t.inferBatch1PerSec.toFixed(0)}/s (${ratio(r.inferBatch1PerSec, t.inferBatch1PerSec)}), b128 ${t.inferBatch128PerSec.toFixed(0)}/s (${ratio(r.inferBatch128PerSec, t.inferBatch128PerSec)})\n`);
          }
        }
        const med = (f: (r: Row) => number) => median(ours.map(f));
        const row: Row = {
          backend, model: m.arch, density: ours[0].density,
          trainSamplesPerSec: med((r) => r.trainSamplesPerSec), inferBatch1PerSec: med((r) => r.inferBatch1PerSec), inferBatch128PerSec: med((r) => r.inferBatch128PerSec),
          trainGflops: med((r) => r.trainGflops), trainFractionOfGemm: med((r) => r.trainFractionOfGemm), inferFractionOfGemm: med((r) => r.inferFractionOfGemm),
        };
        if (theirs.length > 0) {
          const tm = (f: (t: TorchFigures) => number) => median(theirs.map(f));
          row.torch = {
            ...theirs[0], trainSamplesPerSec: tm((t) => t.trainSamplesPerSec), inferBatch1PerSec: tm((t) => t.inferBatch1PerSec),
            inferBatch128PerSec: tm((t) => t.inferBatch128PerSec), gemmGflops: Math.max(...theirs.map((t) => t.gemmGflops)),
          };
          torchGemm = Math.max(torchGemm, row.torch.gemmGflops);
          const ratios = (f: (x: { trainSamplesPerSec: number; inferBatch1PerSec: number; inferBatch128PerSec: number }) => number) => ours.map((r, i) => f(r) / f(theirs[i]));
          row.fastestTrain = { ours: Math.max(...ours.map((r) => r.trainSamplesPerSec)), torch: Math.max(...theirs.map((t) => t.trainSamplesPerSec)) };
          row.ratios = {
            train: ratios((x) => x.trainSamplesPerSec), inferBatch1: ratios((x) => x.inferBatch1PerSec), inferBatch128: ratios((x) => x.inferBatch128PerSec),
          };
        }
        rows.push(row);
      }
    }
  }
  const loadAfter = loadavg();
  const command = ['npm run bench:throughput', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');
  const blas = rows.find((r) => r.torch)?.torch?.blas ?? '';
  const torchInfo = torchPython.python !== null ? { python: torchPython.python, version: torchPython.torch, blas, gemmGflops: torchGemm } : { unavailable: torchMissing };
  const result = { date: new Date().toISOString(), command, loadAverage: { before: loadBefore, after: loadAfter }, backend: chosen, torch: torchInfo, gemmGflops: Object.fromEntries(Object.entries(gemm).map(([k, v]) => [k, v / 1e9])), rows };
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/throughput.json', JSON.stringify(result, null, 2));
  const md = [
    '# Training and inference throughput',
    '',
    `Made by \`${result.command}\` on ${result.date.slice(0, 10)}; default backend \`${chosen.name}\` (${chosen.threads} thread${chosen.threads === 1 ? '' : 's'}${chosen.simd !== undefined ? `, ${chosen.simd ? 'SIMD' : 'no SIMD'}` : ''}). Attainable GEMM (512^3 matMul, measured beside every row; best of the run): ${Object.entries(result.gemmGflops).map(([k, v]) => `${k} ${v.toFixed(1)} GFLOP/s`).join(', ')}.`,
    `1-minute, 5-minute and 15-minute load average on this ${chosen.name === 'wasm' ? '2-core ' : ''}machine before / after: ${loadText(loadBefore)} / ${loadText(loadAfter)} (the machine is shared: compare the ratios, which are measured side by side, rather than absolute figures across runs).`,
    'Training: batch 64, SGD, forward + backward + masked update; FLOPs counted dense (3x forward), so a sparse step can exceed 100 % of GEMM. Density 0.1 keeps 10 % of every kernel. On wasm the fully connected kernels of LeNet-300-100 then train on their live connections (core/train/sparse-fc.ts); convolutions stay dense. Inference is `model.predict` on a snapshot of W*M taken once, as a served version without a sparse plan runs (daemon/serving/loader.ts; so the same filter tensors keep the packed copies XNNPACK makes of them), dense throughout (the sparse plan of serving: [sparse.md](sparse.md)).',
    '',
    '| backend | model | density | train samples/s | infer batch 1 /s | infer batch 128 /s | train GFLOP/s | train % of GEMM | infer % of GEMM |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.backend} | ${r.model} | ${r.density.toFixed(2)} | ${r.trainSamplesPerSec.toFixed(0)} | ${r.inferBatch1PerSec.toFixed(0)} | ${r.inferBatch128PerSec.toFixed(0)} | ${r.trainGflops.toFixed(2)} | ${(r.trainFractionOfGemm * 100).toFixed(1)} | ${(r.inferFractionOfGemm * 100).toFixed(1)} |`),
    '',
    '## Beside PyTorch',
    '',
    ...torchSection(rows, blas, torchGemm, (gemm[chosen.name] ?? 0) / 1e9, chosen.name, chosen.threads, rows.find((r) => r.torch)?.torch?.allocator ?? 'unknown'),
    '',
  ].join('\n');
  await writeFile('bench/results/throughput.md', md);
}

await main();
