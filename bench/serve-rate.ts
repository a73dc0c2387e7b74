/**
 * The maximum predict rate of the daemon (issue 12): `POST /v1/predict` with one
 * 28x28 MNIST PNG, closed loop over keep-alive HTTP from 1 and 16 clients, on a
 * LeNet-300-100 with random masks at 10 % density, with the inference plan
 * (core/sparse/sparse-inference.ts: the WebAssembly sparse kernel for layers at
 * or below SPARSE_MAX_DENSITY, a W*M snapshot on tfjs above it) and batching off
 * (as before them) and on, in one run. The clients run in the server's process
 * (they share its core) and in a child process (bench/predict-load.ts; the server
 * keeps its core, as with real clients). The last rows measure the same while an
 * update trains in the trainer child (nice +10) on MNIST images dropped into the
 * inbox.
 *
 *   npm run bench:serve -- --rate [--seconds 3 --out bench/results]
 *
 * Writes serve-rate.json and serve-rate.md.
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tf, backendInfo, initBackend, createModel, saveModel } from '../core/index.ts';
import { parseConfig } from '../config/index.ts';
import { loadMnist } from '../pipelines/datasets/mnist.ts';
import { openRegistry } from '../daemon/registry/index.ts';
import { startDaemon, type Daemon } from '../daemon/daemon.ts';
import { createLog } from '../daemon/logging.ts';
import { type LoadSummary, summarise } from './load-stats.ts';

interface Mode { name: string; sparseInference: boolean; maxBatchSize: number }
type Clients = 'same process' | 'child process';
interface Row extends LoadSummary { mode: string; clients: number; where: Clients; training: boolean }

const MODES: Mode[] = [
  { name: 'model.predict (tfjs, W*M every call), no batching: before', sparseInference: false, maxBatchSize: 1 },
  { name: 'inference plan, no batching', sparseInference: true, maxBatchSize: 1 },
  { name: 'inference plan + batching: after', sparseInference: true, maxBatchSize: 32 },
];
/** MNIST training images dropped into the inbox for the update measured under load. */
const TRAINING_IMAGES = 2000;

/** `clients` closed-loop clients in this process for `seconds`. */
async function loadHere(url: string, probes: Buffer[], clients: number, seconds: number): Promise<LoadSummary> {
  const ms: number[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const client = async (c: number): Promise<void> => {
    for (let k = c; performance.now() < end; k++) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: probes[k % probes.length] });
        await res.arrayBuffer();
        if (res.status === 200) ms.push(performance.now() - t0);
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return summarise(ms, failed, (performance.now() - t0) / 1000);
}

/** The same load from a child process (bench/predict-load.ts). */
function loadChild(url: string, probesFile: string, clients: number, seconds: number): Promise<LoadSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'predict-load.ts'), url, probesFile, String(clients), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadSummary) : reject(new Error(`the load process exited with ${code}`))));
  });
}

/** One MNIST image as a 28x28 gray PNG. */
function pngOf(pixels: Float32Array, i: number): Promise<Buffer> {
  return sharp(Buffer.from(Uint8Array.from(pixels.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255))), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
}

/** Publishes and promotes LeNet-300-100 with random 10 % masks; returns its density. */
async function publishSparseModel(stateDir: string): Promise<number> {
  const registry = await openRegistry(join(stateDir, 'models'));
  const model = createModel({ arch: 'lenet300', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  model.kernels.forEach((k, i) => k.setMask(tf.tidy(() => tf.randomUniform(k.shape, 0, 1, 'float32', 7 + i).less(0.1).toFloat())));
  const density = model.density();
  const labels = Array.from({ length: 10 }, (_, i) => String(i));
  const version = await registry.publish((d) => saveModel(model, d, { parent: null, labels }).then(() => undefined), {
    samplesSeen: 0, metrics: {}, parameters: {}, cost: { sampleEpochs: 0, epochs: 0, flops: 0, wallSeconds: 0 }, backend: backendInfo()?.name ?? 'unknown', timings: {},
  });
  await registry.promote(version, 'benchmark');
  model.dispose();
  return density;
}

function startRateDaemon(stateDir: string, mode: Mode): Promise<Daemon> {
  const config = parseConfig({
    stateDir, server: { port: 0, sparseInference: mode.sparseInference, batching: { maxBatchSize: mode.maxBatchSize, maxDelayMs: 1 } },
    triggers: { initialCount: 1_000_000, pendingCount: 1_000_000, maxWaitSec: null },
    algorithm: { newDataEpochs: 50, allDataEpochs: 50, augment: false },
    log: { level: 'warn', format: 'json' },
  });
  return startDaemon(config, { log: createLog({ level: 'warn', format: 'json', stream: process.stderr }) });
}

/** Drops the training images into the inbox, waits until they are stored, starts an update and waits for its training. */
async function startTraining(daemon: Daemon, outgoing: string, stateDir: string): Promise<void> {
  const training = new Promise<void>((resolve) => {
    const on = (_s: unknown, p: { phase: string }): void => {
      if (p.phase.startsWith('growth')) {
        daemon.events.off('progress', on);
        resolve();
      }
    };
    daemon.events.on('progress', on);
  });
  for (const label of readdirSync(outgoing)) renameSync(join(outgoing, label), join(stateDir, 'inbox', label));
  const deadline = Date.now() + 300_000;
  while (daemon.store.counts().total < TRAINING_IMAGES) {
    if (Date.now() > deadline) throw new Error(`only ${daemon.store.counts().total} of ${TRAINING_IMAGES} images were stored`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const answer = daemon.requestUpdate('benchmark');
  if (!answer.accepted) throw new Error(`the update was refused: ${JSON.stringify(answer)}`);
  await training;
}

/** Writes the training images (old by the time they are renamed into the inbox, so complete on arrival). */
async function writeTrainingImages(dir: string): Promise<void> {
  const mnist = loadMnist({ trainLimit: TRAINING_IMAGES, testLimit: 1 });
  for (let i = 0; i < TRAINING_IMAGES; i++) {
    const label = String(mnist.train.labels[i]);
    mkdirSync(join(dir, label), { recursive: true });
    writeFileSync(join(dir, label, `m${i}.png`), await pngOf(mnist.train.images, i));
  }
}

/** Runs the rate benchmark; see the file comment. */
export async function serveRate(seconds: number, out: string): Promise<void> {
  await initBackend();
  const started = new Date();
  const mnist = loadMnist({ trainLimit: 1, testLimit: 200 });
  const probes = await Promise.all(Array.from({ length: 200 }, (_, i) => pngOf(mnist.test.images, i)));
  const root = mkdtempSync(join(tmpdir(), 'bonsai-bench-rate-'));
  const probesFile = join(root, 'probes.json');
  writeFileSync(probesFile, JSON.stringify(probes.map((p) => p.toString('base64'))));
  const rows: Row[] = [];
  const measure = async (daemon: Daemon, mode: Mode, training: boolean, where: Clients, clients: number): Promise<void> => {
    const r = where === 'child process' ? await loadChild(daemon.url, probesFile, clients, seconds) : await loadHere(daemon.url, probes, clients, seconds);
    rows.push({ mode: mode.name, clients, where, training, ...r });
    process.stderr.write(`${mode.name}${training ? ', training' : ''}, ${clients} clients (${where}): ${r.perSecond}/s, p50 ${r.p50} ms, p99 ${r.p99} ms, failed ${r.failed}\n`);
  };
  try {
    const stateDir = join(root, 'state');
    const density = await publishSparseModel(stateDir);
    const outgoing = join(root, 'outgoing');
    await writeTrainingImages(outgoing);
    for (const mode of MODES) {
      const daemon = await startRateDaemon(stateDir, mode);
      try {
        await loadHere(daemon.url, probes, 4, 0.5);
        for (const where of ['same process', 'child process'] as const) for (const clients of [1, 16]) await measure(daemon, mode, false, where, clients);
        if (mode === MODES[MODES.length - 1]) {
          await startTraining(daemon, outgoing, stateDir);
          for (const where of ['child process', 'same process'] as const) await measure(daemon, mode, true, where, 16);
          if (!daemon.scheduler.busy) throw new Error('the update ended before the load did: raise its epochs');
        }
      } finally {
        await daemon.stop('benchmark done');
      }
    }
    writeResults(out, { seconds, started, density, rows });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function writeResults(out: string, run: { seconds: number; started: Date; density: number; rows: Row[] }): void {
  const { seconds, density, rows } = run;
  const result = {
    command: `npm run bench:serve -- --rate --seconds ${seconds}`, date: run.started.toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
    backend: backendInfo(), model: { arch: 'lenet300', density }, rows,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'serve-rate.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = [
    '# Maximum predict rate',
    '',
    `Command: \`${result.command}\` (${result.date.slice(0, 10)}). Backend \`${result.backend?.name}\` (${result.backend?.threads} threads), ${result.machine.cpus} cores, Node ${result.machine.node}.`,
    `The machine is shared with other engineers' long experiments (1-minute load average ${result.machine.loadavgAtEnd.join(', ')} at the end, on 2 cores): rates are noisy; compare rows of this run.`,
    `Model: LeNet-300-100 with random masks at ${(density * 100).toFixed(1)} % kernel density (untrained weights: speed only). Requests: \`POST /v1/predict\` with one MNIST test digit as a 28x28 PNG (decode + predict), closed loop, keep-alive, ${seconds} s per row.`,
    'Clients: in the server\'s process (they share its core), or in a child process (bench/predict-load.ts, node:http; the server keeps a core to itself when the machine has one free).',
    `Training: an update of the served model (grow and prune, trainer child at nice +10) on ${TRAINING_IMAGES} MNIST images dropped into the inbox, running for the whole measurement.`,
    '',
    '| mode | clients | load from | while training | requests | failed | requests/s | p50 ms | p99 ms |',
    '|---|---:|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.mode} | ${r.clients} | ${r.where} | ${r.training ? 'yes' : 'no'} | ${r.requests} | ${r.failed} | ${r.perSecond} | ${r.p50} | ${r.p99} |`),
    '',
  ].join('\n');
  writeFileSync(join(out, 'serve-rate.md'), md);
  process.stdout.write(md);
}
