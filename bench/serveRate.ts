/**
 * The maximum predict rate of the daemon (issue 12): `POST /v1/predict` with one
 * 28x28 MNIST PNG, closed loop over keep-alive HTTP from 1 and 16 clients in the
 * same process, on a LeNet-300-100 with random masks at 10 % density, with
 * the inference plan (core/sparse/sparseInference.ts: CSR for layers at or below
 * SPARSE_MAX_DENSITY, a W*M snapshot on tfjs above it) and batching off (as
 * before them) and on, in one run.
 *
 *   npm run bench:serve -- --rate [--seconds 3 --out bench/results]
 *
 * Writes serve-rate.json and serve-rate.md.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import * as tf from '../core/tf.ts';
import { backendInfo, initBackend } from '../core/backend.ts';
import { createModel } from '../core/models/index.ts';
import { saveModel } from '../core/serialize/index.ts';
import { parseConfig } from '../config/index.ts';
import { loadMnist } from '../pipelines/datasets/mnist.ts';
import { openRegistry } from '../daemon/registry/index.ts';
import { startDaemon } from '../daemon/daemon.ts';
import { createLog } from '../daemon/logging.ts';

interface Mode { name: string; sparseInference: boolean; maxBatchSize: number }
interface Row { mode: string; clients: number; requests: number; failed: number; perSecond: number; p50: number; p99: number }

const MODES: Mode[] = [
  { name: 'model.predict (tfjs, W*M every call), no batching: before', sparseInference: false, maxBatchSize: 1 },
  { name: 'inference plan, no batching', sparseInference: true, maxBatchSize: 1 },
  { name: 'inference plan + batching: after', sparseInference: true, maxBatchSize: 32 },
];

function quantile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 100) / 100;
}

/** `clients` closed-loop clients for `seconds`: the rate and the latency percentiles. */
async function load(url: string, probes: Buffer[], clients: number, seconds: number): Promise<Omit<Row, 'mode' | 'clients'>> {
  const ms: number[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const client = async (c: number): Promise<void> => {
    for (let k = c; performance.now() < end; k++) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: probes[k % probes.length] });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      } catch {
        failed++;
      }
      ms.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const wall = (performance.now() - t0) / 1000;
  const sorted = ms.sort((a, b) => a - b);
  return { requests: ms.length, failed, perSecond: Math.round(ms.length / wall), p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Runs the rate benchmark; see the file comment. */
export async function serveRate(seconds: number, out: string): Promise<void> {
  await initBackend();
  const started = new Date();
  const mnist = loadMnist({ trainLimit: 1, testLimit: 200 });
  const probes = await Promise.all(Array.from({ length: 200 }, (_, i) => sharp(Buffer.from(Uint8Array.from(mnist.test.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255))), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer()));
  const root = mkdtempSync(join(tmpdir(), 'bonsai-bench-rate-'));
  const rows: Row[] = [];
  try {
    const stateDir = join(root, 'state');
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
    for (const mode of MODES) {
      const config = parseConfig({
        stateDir, server: { port: 0, sparseInference: mode.sparseInference, batching: { maxBatchSize: mode.maxBatchSize, maxDelayMs: 1 } },
        triggers: { initialCount: 1_000_000, maxWaitSec: null }, log: { level: 'warn', format: 'json' },
      });
      const daemon = await startDaemon(config, { log: createLog({ level: 'warn', format: 'json', stream: process.stderr }) });
      try {
        await load(daemon.url, probes, 4, 0.5);
        for (const clients of [1, 16]) {
          const r = await load(daemon.url, probes, clients, seconds);
          rows.push({ mode: mode.name, clients, ...r });
          process.stderr.write(`${mode.name}, ${clients} clients: ${r.perSecond}/s, p50 ${r.p50} ms, p99 ${r.p99} ms, failed ${r.failed}\n`);
        }
      } finally {
        await daemon.stop('benchmark done');
      }
    }
    const result = {
      command: `npm run bench:serve -- --rate --seconds ${seconds}`, date: started.toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100) },
      backend: backendInfo(), model: { arch: 'lenet300', density }, rows,
    };
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'serve-rate.json'), `${JSON.stringify(result, null, 2)}\n`);
    const md = [
      '# Maximum predict rate',
      '',
      `Command: \`${result.command}\` (${result.date.slice(0, 10)}). Backend \`${result.backend?.name}\` (${result.backend?.threads} threads), ${result.machine.cpus} cores, Node ${result.machine.node}.`,
      `The machine is shared with other engineers' long experiments (1-minute load average ${result.machine.loadavgAtEnd.join(', ')} at the end, on 2 cores), and the clients run in the server's process: rates are low and noisy; compare rows of this run.`,
      `Model: LeNet-300-100 with random masks at ${(density * 100).toFixed(1)} % kernel density (untrained weights: speed only). Requests: \`POST /v1/predict\` with one MNIST test digit as a 28x28 PNG (decode + predict), closed loop, keep-alive, ${seconds} s per row.`,
      '',
      '| mode | clients | requests | failed | requests/s | p50 ms | p99 ms |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.mode} | ${r.clients} | ${r.requests} | ${r.failed} | ${r.perSecond} | ${r.p50} | ${r.p99} |`),
      '',
    ].join('\n');
    writeFileSync(join(out, 'serve-rate.md'), md);
    process.stdout.write(md);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
