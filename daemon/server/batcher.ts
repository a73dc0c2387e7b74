/**
 * Server-side batching of `POST /v1/predict`, as TensorFlow Serving's batching
 * does: concurrent requests for the same model are gathered into one forward
 * pass, within a small time budget (`maxDelayMs`) or up to `maxBatchSize`
 * samples, and each gets its own rows of the answer back.
 *
 * A batch waits only while other requests are still being decoded: when every
 * request that has begun is queued, it runs at once (after the current
 * event-loop turn, so that requests parsed in the same turn join it). One client
 * therefore never waits for the budget. When the merged pass fails, or answers
 * the wrong number of values, each request runs alone, so a failure is its own.
 */
import type { LoadedModel } from '../serving/types.ts';

/** Options of `PredictBatcher` (config `server.batching`). */
export interface BatchingOptions {
  /** Most samples in one merged forward pass; 1 turns batching off. Larger requests run alone. */
  maxBatchSize: number;
  /** Longest time in milliseconds a queued request waits for others still being decoded. */
  maxDelayMs: number;
}

/** One request's place in the batcher: begun when its handling starts, ended when it answers. */
export interface BatchTicket {
  /** Class probabilities of the request's `n` samples, possibly computed in a merged pass. */
  predict(model: LoadedModel, x: Float32Array, n: number): Promise<Float32Array>;
  /** The request is done (answered or failed); idempotent. */
  end(): void;
}

interface Pending {
  x: Float32Array;
  n: number;
  resolve: (out: Float32Array) => void;
  reject: (err: unknown) => void;
}

interface Queue {
  model: LoadedModel;
  items: Pending[];
  samples: number;
  timer: NodeJS.Timeout | null;
  immediate: NodeJS.Immediate | null;
}

/** Gathers concurrent predictions into merged forward passes; see the file comment. */
export class PredictBatcher {
  /** Forward passes run (merged or alone) since start. */
  forwardPasses = 0;
  /** Requests answered through `predict` since start. */
  requests = 0;
  private arriving = 0;
  private readonly queues = new Map<LoadedModel, Queue>();

  constructor(private readonly options: BatchingOptions, private readonly onBatch?: (samples: number, requests: number) => void) {}

  /** Marks a request as begun: until it calls `predict` (or `end`), queued batches may wait for it. */
  begin(): BatchTicket {
    this.arriving += 1;
    let arrived = false;
    const arrive = (): void => {
      if (arrived) return;
      arrived = true;
      this.arriving -= 1;
      if (this.arriving === 0) for (const q of this.queues.values()) this.soon(q);
    };
    return {
      predict: (model, x, n) => {
        arrive();
        return this.enqueue(model, x, n);
      },
      end: arrive,
    };
  }

  private enqueue(model: LoadedModel, x: Float32Array, n: number): Promise<Float32Array> {
    this.requests += 1;
    if (this.options.maxBatchSize <= 1 || n >= this.options.maxBatchSize) return this.run(model, x, n, 1);
    return new Promise<Float32Array>((resolve, reject) => {
      let q = this.queues.get(model);
      if (q !== undefined && q.samples + n > this.options.maxBatchSize) {
        this.flush(q);
        q = undefined;
      }
      if (q === undefined) {
        const created: Queue = { model, items: [], samples: 0, timer: null, immediate: null };
        created.timer = setTimeout(() => this.flush(created), this.options.maxDelayMs);
        this.queues.set(model, created);
        q = created;
      }
      q.items.push({ x, n, resolve, reject });
      q.samples += n;
      if (q.samples >= this.options.maxBatchSize) this.flush(q);
      else if (this.arriving === 0) this.soon(q);
    });
  }

  /** Runs `q` after the current event-loop turn. */
  private soon(q: Queue): void {
    if (q.immediate === null) q.immediate = setImmediate(() => this.flush(q));
  }

  private flush(q: Queue): void {
    if (this.queues.get(q.model) !== q) return;
    this.queues.delete(q.model);
    if (q.timer !== null) clearTimeout(q.timer);
    if (q.immediate !== null) clearImmediate(q.immediate);
    void this.execute(q);
  }

  private async execute(q: Queue): Promise<void> {
    const { model, items } = q;
    if (items.length === 1) {
      const [only] = items;
      await this.run(model, only.x, only.n, 1).then(only.resolve, only.reject);
      return;
    }
    const x = new Float32Array(items.reduce((s, it) => s + it.x.length, 0));
    let offset = 0;
    for (const it of items) {
      x.set(it.x, offset);
      offset += it.x.length;
    }
    const out = await this.run(model, x, q.samples, items.length).catch(() => null);
    const k = model.labels.length;
    if (out !== null && out.length === q.samples * k) {
      let row = 0;
      for (const it of items) {
        it.resolve(out.slice(row * k, (row + it.n) * k));
        row += it.n;
      }
      return;
    }
    // The merged pass failed: each request alone, so that only the failing ones fail.
    for (const it of items) await this.run(model, it.x, it.n, 1).then(it.resolve, it.reject);
  }

  private async run(model: LoadedModel, x: Float32Array, n: number, requests: number): Promise<Float32Array> {
    this.forwardPasses += 1;
    this.onBatch?.(n, requests);
    return model.predict(x, n);
  }
}
