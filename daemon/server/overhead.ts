/**
 * Measures what the HTTP layer costs on top of the model: predict requests
 * through fastify `inject` (routing, body parsing, tensor checks, lease,
 * metrics, JSON answer; no sockets) against a fake model that waits
 * `modelMs`, compared with calling the same fake directly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BonsaiError } from '../../core/errors.ts';
import { createMetrics } from '../metrics/registry.ts';
import { ModelHolder } from '../serving/holder.ts';
import type { LoadedModel } from '../serving/types.ts';
import { buildServer } from './app.ts';

/** Options of `measureServerOverhead`. */
export interface OverheadArgs {
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests measured (after `warmup` unmeasured ones). */
  requests: number;
  /** Unmeasured requests first (JIT, caches). Default 200. */
  warmup?: number;
  /** Time the fake model takes per call, in ms (a timer, so calls overlap). Default 1. */
  modelMs?: number;
  /** Per-sample input shape of the fake model (a JSON tensor of this shape is sent). Default [28, 28, 1]. */
  inputShape?: number[];
}

/** Throughput and latency of one way of calling the model. */
export interface LatencyStats {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Server path vs direct model calls at the same concurrency. */
export interface OverheadResult {
  concurrency: number;
  requests: number;
  modelMs: number;
  server: LatencyStats;
  direct: LatencyStats;
}

/** Runs the measurement; throws if any request fails. */
export async function measureServerOverhead(args: OverheadArgs): Promise<OverheadResult> {
  const modelMs = args.modelMs ?? 1;
  const inputShape = args.inputShape ?? [28, 28, 1];
  const size = inputShape.reduce((a, b) => a * b, 1);
  const labels = Array.from({ length: 10 }, (_, i) => String(i));
  const model: LoadedModel = {
    version: 1,
    labels,
    inputShape,
    modality: 'image',
    async predict(_batch: Float32Array, n: number): Promise<Float32Array> {
      await sleep(modelMs);
      return new Float32Array(n * labels.length).fill(1 / labels.length);
    },
    async warmUp(): Promise<void> {},
    dispose(): void {},
  };
  const holder = new ModelHolder({ loader: async () => model });
  await holder.swapTo(1);
  const app = buildServer({
    holder,
    metrics: createMetrics({ version: 'bench', defaultMetrics: false }),
    preprocess: { image: unused, audio: unused },
    registry: { list: async () => ({ current: 1, previous: null, versions: [{ version: 1 }] }), promote: async () => ({}), rollback: async () => ({ version: 1 }) },
    updates: { requestUpdate: async () => ({ accepted: false, state: 'bench' }) },
    status: { status: () => ({}) },
  });
  await app.ready();
  const payload = JSON.stringify({ tensor: Array.from({ length: size }, (_, i) => (i % 255) / 255) });
  const viaServer = async (): Promise<void> => {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload });
    if (res.statusCode !== 200) throw new BonsaiError('BONSAI_HTTP_INTERNAL', `overhead run got HTTP ${res.statusCode}: ${res.body}`);
  };
  const batch = new Float32Array(size);
  const direct = async (): Promise<void> => {
    const lease = holder.acquire();
    try {
      await lease.model.predict(batch, 1);
    } finally {
      lease.release();
    }
  };
  try {
    const warmup = args.warmup ?? 200;
    await run(viaServer, args.concurrency, warmup);
    await run(direct, args.concurrency, warmup);
    const server = await run(viaServer, args.concurrency, args.requests);
    const directStats = await run(direct, args.concurrency, args.requests);
    return { concurrency: args.concurrency, requests: args.requests, modelMs, server, direct: directStats };
  } finally {
    await app.close();
    await holder.close();
  }
}

async function unused(): Promise<never> {
  throw new BonsaiError('BONSAI_HTTP_INTERNAL', 'the overhead run sends JSON tensors only');
}

/** `total` calls of `fn` with `concurrency` in flight; latency per call and overall throughput. */
async function run(fn: () => Promise<void>, concurrency: number, total: number): Promise<LatencyStats> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      const t0 = performance.now();
      await fn();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { requestsPerSecond: total / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}
