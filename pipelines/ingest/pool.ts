/**
 * Decoding on worker threads. The audio pipeline (MFCC) is synchronous
 * JavaScript, so on the main thread it runs one file at a time and shares the
 * core with the commit protocol; a pool of workers decodes several files at
 * once on all cores. (Images need no pool: sharp already decodes on libuv's
 * thread pool.)
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BonsaiError } from '../../core/errors.ts';
import type { AudioSpec, ImageSpec, IngestLimits, Modality, ProcessedSample } from '../types.ts';
import type { PoolRequest, PoolResponse } from './pool-worker.ts';

/** Options of a `ProcessingPool`. */
export interface ProcessingPoolOptions {
  /** Worker threads; default: the number of cores. */
  threads?: number;
  /** Spec for image jobs (omit if the pool decodes audio only). */
  imageSpec?: ImageSpec;
  /** Spec for audio jobs (omit if the pool decodes images only). */
  audioSpec?: AudioSpec;
  limits: IngestLimits;
}

/**
 * Starts a decoding worker. Running from TypeScript sources, the worker needs
 * the tsx loader, and hooks registered in this thread (bin/bonsai.js,
 * `--import tsx`) do not reach workers: a small bootstrap registers tsx (as
 * bin/bonsai.js does) and then imports the worker module.
 */
function startWorker(workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './pool-worker.ts' : './pool-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData });
  const api = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

interface Pending {
  resolve: (s: ProcessedSample) => void;
  reject: (e: unknown) => void;
  worker: number;
}

/** A fixed set of worker threads running the image and audio pipelines. */
export class ProcessingPool {
  private readonly workers: Worker[];
  private readonly load: number[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(options: ProcessingPoolOptions) {
    const threads = Math.max(1, options.threads ?? availableParallelism());
    const workerData = { imageSpec: options.imageSpec, audioSpec: options.audioSpec, limits: options.limits };
    this.workers = Array.from({ length: threads }, (_, i) => {
      const worker = startWorker(workerData);
      worker.on('message', (res: PoolResponse) => this.settle(res));
      worker.on('error', (err) => this.failWorker(i, err));
      worker.unref();
      return worker;
    });
    this.load = this.workers.map(() => 0);
  }

  /** Decodes `bytes` as `modality` on the least busy worker. */
  process(bytes: Uint8Array, modality: Modality): Promise<ProcessedSample> {
    if (this.closed) return Promise.reject(new BonsaiError('BONSAI_INGEST_POOL_CLOSED', 'the processing pool is closed'));
    const least = Math.min(...this.load);
    if (least === Number.POSITIVE_INFINITY) return Promise.reject(new BonsaiError('BONSAI_INGEST_POOL_WORKER_FAILED', 'every decoding worker has failed', { threads: this.workers.length }));
    const worker = this.load.indexOf(least);
    const id = this.nextId++;
    // A busy worker keeps the process alive; an idle one does not.
    if (this.load[worker]++ === 0) this.workers[worker].ref();
    return new Promise<ProcessedSample>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      const request: PoolRequest = { id, modality, bytes: Uint8Array.from(bytes) };
      this.workers[worker].postMessage(request, [request.bytes.buffer as ArrayBuffer]);
    });
  }

  private settle(res: PoolResponse): void {
    const job = this.pending.get(res.id);
    if (!job) return;
    this.pending.delete(res.id);
    if (--this.load[job.worker] === 0) this.workers[job.worker].unref();
    if ('error' in res) {
      const { code, message, details } = res.error;
      job.reject(new BonsaiError(code ?? 'BONSAI_INGEST_PROCESS_FAILED', message, details));
    } else {
      job.resolve({ modality: res.modality, features: res.features, shape: res.shape });
    }
  }

  private failWorker(index: number, err: unknown): void {
    for (const [id, job] of this.pending) {
      if (job.worker !== index) continue;
      this.pending.delete(id);
      job.reject(new BonsaiError('BONSAI_INGEST_POOL_WORKER_FAILED', `decoding worker ${index} failed: ${(err as Error).message}`, { worker: index }, { cause: err }));
    }
    this.load[index] = Number.POSITIVE_INFINITY;
  }

  /** Stops the workers; jobs still running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const job of this.pending.values()) job.reject(new BonsaiError('BONSAI_INGEST_POOL_CLOSED', 'the processing pool was closed while decoding'));
    this.pending.clear();
  }
}
