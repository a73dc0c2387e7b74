/**
 * The model holder: one live model at a time, swapped without dropping a request.
 *
 * Semantics follow TensorFlow Serving's AvailabilityPreservingPolicy and
 * ServableHandle: the new version is loaded and warmed up *before* it replaces
 * the old one; a failed load leaves the old one serving; requests hold a lease
 * (a reference count) so the ones in flight finish on the model they started
 * with, and a replaced model is disposed when its last lease is released.
 * Swaps are serialised: one load at a time, in the order they were asked for.
 */
import { BonsaiError } from '../../core/errors.ts';
import type { LoadedModel, ModelLoader } from './types.ts';

/** A claim on the live model for the duration of one request. */
export interface Lease {
  /** The model this request must use from start to finish. */
  readonly model: LoadedModel;
  /** Gives the claim back. Idempotent: a second call does nothing. */
  release(): void;
}

/** What a swap did. `failed` leaves the previous model serving. */
export type SwapOutcome = 'ok' | 'failed' | 'unchanged';

/** The result of `swapTo`, also passed to `onSwap`. */
export interface SwapResult {
  outcome: SwapOutcome;
  /** The version asked for. */
  version: number;
  /** The version served before the swap (null when none was). */
  previousVersion: number | null;
  /** The version served after the swap (null when none is). */
  servingVersion: number | null;
  /** Load plus warm-up time in seconds (0 for `unchanged`). */
  seconds: number;
  /** Why it failed (`BONSAI_DAEMON_SWAP_FAILED`, with the loader's error as cause). */
  error?: BonsaiError;
}

/** Options of `ModelHolder`. */
export interface ModelHolderArgs {
  /** Loads a registry version. */
  loader: ModelLoader;
  /** Longest time load + warm-up may take in milliseconds; 0 waits forever. */
  swapTimeoutMs?: number;
  /** Called after every swap attempt (metrics, logs). Must not throw. */
  onSwap?: (result: SwapResult) => void;
  /** Called after a replaced model was disposed; `error` when dispose threw. */
  onDispose?: (version: number, error?: unknown) => void;
}

/** A snapshot for `/v1/status` and `/readyz`. */
export interface HolderStatus {
  /** Version being served, null until the first successful swap. */
  version: number | null;
  /** ISO time the served version went live. */
  servingSince: string | null;
  /** Leases held on the served model. */
  inFlight: number;
  /** Replaced models still finishing requests: version and leases. */
  draining: Array<{ version: number; leases: number }>;
  /** A swap is loading or warming up now. */
  swapping: boolean;
  /** Completed swaps by outcome since start. */
  swaps: { ok: number; failed: number };
  /** The most recent failed swap, if any. */
  lastError: { code: string; message: string; version: number; at: string } | null;
  /** `close()` was called. */
  closed: boolean;
}

interface Entry {
  model: LoadedModel;
  leases: number;
  retired: boolean;
  disposed: boolean;
  since: Date;
}

/** How far a swap got, shared between the load and its timeout. */
interface Stage {
  phase: 'load' | 'validate' | 'warm-up';
  model: LoadedModel | null;
}

interface SwapOptions {
  /** Reload even when `version` is already served. */
  force?: boolean;
}

/** Holds the live model; see the file comment for the guarantees. */
export class ModelHolder {
  private current: Entry | null = null;
  private readonly draining = new Set<Entry>();
  private tail: Promise<unknown> = Promise.resolve();
  private pendingSwaps = 0;
  private closed = false;
  private drained: (() => void) | null = null;
  private readonly counts = { ok: 0, failed: 0 };
  private lastError: HolderStatus['lastError'] = null;

  constructor(private readonly args: ModelHolderArgs) {}

  /** True once a model is loaded and warm, and until `close()`. */
  get ready(): boolean {
    return this.current !== null && !this.closed;
  }

  /** The served version, or null. */
  get version(): number | null {
    return this.current?.model.version ?? null;
  }

  /** A lease on the live model, or null when none is loaded (or the holder is closed). */
  tryAcquire(): Lease | null {
    const entry = this.current;
    if (entry === null || this.closed) return null;
    entry.leases += 1;
    let released = false;
    return {
      model: entry.model,
      release: () => {
        if (released) return;
        released = true;
        entry.leases -= 1;
        if (entry.retired && entry.leases === 0) this.dispose(entry);
      },
    };
  }

  /** A lease on the live model; throws `BONSAI_DAEMON_NO_MODEL` when none is loaded. */
  acquire(): Lease {
    const lease = this.tryAcquire();
    if (lease === null) {
      throw new BonsaiError('BONSAI_DAEMON_NO_MODEL', this.closed ? 'the model holder is closed' : 'no model is loaded yet', { closed: this.closed });
    }
    return lease;
  }

  /**
   * Loads `version`, warms it up, then makes it the live model. Resolves (never
   * rejects) with the outcome; on failure the previous model keeps serving.
   * Calls are serialised in the order they were made.
   */
  swapTo(version: number, options: SwapOptions = {}): Promise<SwapResult> {
    this.pendingSwaps += 1;
    const run = this.tail.then(() => this.swapNow(version, options)).finally(() => {
      this.pendingSwaps -= 1;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** A snapshot of what is served and what is draining. */
  status(): HolderStatus {
    return {
      version: this.version,
      servingSince: this.current?.since.toISOString() ?? null,
      inFlight: this.current?.leases ?? 0,
      draining: [...this.draining].map((e) => ({ version: e.model.version, leases: e.leases })),
      swapping: this.pendingSwaps > 0,
      swaps: { ...this.counts },
      lastError: this.lastError,
      closed: this.closed,
    };
  }

  /**
   * Stops handing out leases and swapping (queued swaps fail), then resolves
   * when the requests in flight have finished and every model is disposed.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    const entry = this.current;
    this.current = null;
    if (entry !== null) this.retire(entry);
    if (this.draining.size > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
  }

  private async swapNow(version: number, options: SwapOptions): Promise<SwapResult> {
    const previous = this.current;
    const previousVersion = previous?.model.version ?? null;
    if (this.closed) {
      return this.failed(version, previousVersion, 0, 'closed', new BonsaiError('BONSAI_DAEMON_NO_MODEL', 'the model holder is closed'));
    }
    if (previous !== null && previousVersion === version && options.force !== true) {
      const result: SwapResult = { outcome: 'unchanged', version, previousVersion, servingVersion: version, seconds: 0 };
      this.args.onSwap?.(result);
      return result;
    }
    const started = performance.now();
    const stage: Stage = { phase: 'load', model: null };
    const work = this.loadAndWarm(version, stage);
    let model: LoadedModel;
    try {
      model = await this.withTimeout(version, stage, work);
    } catch (err) {
      // Free the candidate once the loader is done with it (it may still be warming up after a timeout).
      void work.catch(() => undefined).then(() => {
        if (stage.model !== null) safeDispose(stage.model, this.args.onDispose);
        stage.model = null;
      });
      return this.failed(version, previousVersion, (performance.now() - started) / 1000, stage.phase, err);
    }
    if (this.closed) {
      safeDispose(model, this.args.onDispose);
      return this.failed(version, previousVersion, (performance.now() - started) / 1000, 'closed', new BonsaiError('BONSAI_DAEMON_NO_MODEL', 'the model holder was closed during the swap'));
    }
    // The switch itself: one assignment, so no request can see a half-swapped state.
    this.current = { model, leases: 0, retired: false, disposed: false, since: new Date() };
    if (previous !== null) this.retire(previous);
    this.counts.ok += 1;
    const result: SwapResult = { outcome: 'ok', version, previousVersion, servingVersion: version, seconds: (performance.now() - started) / 1000 };
    this.args.onSwap?.(result);
    return result;
  }

  private async loadAndWarm(version: number, stage: Stage): Promise<LoadedModel> {
    stage.phase = 'load';
    const model = await this.args.loader(version);
    stage.model = model;
    stage.phase = 'validate';
    validateModel(model, version);
    stage.phase = 'warm-up';
    await model.warmUp();
    return model;
  }

  /** Rejects with `BONSAI_DAEMON_SWAP_TIMEOUT` when `work` takes longer than `swapTimeoutMs`. */
  private async withTimeout<T>(version: number, stage: Stage, work: Promise<T>): Promise<T> {
    const ms = this.args.swapTimeoutMs ?? 0;
    if (ms <= 0) return work;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new BonsaiError('BONSAI_DAEMON_SWAP_TIMEOUT', `loading version ${version} took longer than ${ms} ms (phase ${stage.phase})`, { version, timeoutMs: ms, phase: stage.phase }));
      }, ms);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(version: number, previousVersion: number | null, seconds: number, phase: string, cause: unknown): SwapResult {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const causeCode = cause instanceof BonsaiError ? cause.code : undefined;
    const serving = this.current?.model.version ?? null;
    const error = new BonsaiError(
      'BONSAI_DAEMON_SWAP_FAILED',
      `swap to version ${version} failed during ${phase}: ${reason}; ${serving === null ? 'no model is served' : `version ${serving} keeps serving`}`,
      { version, phase, servingVersion: serving, causeCode },
      { cause },
    );
    this.counts.failed += 1;
    this.lastError = { code: causeCode ?? error.code, message: error.message, version, at: new Date().toISOString() };
    const result: SwapResult = { outcome: 'failed', version, previousVersion, servingVersion: serving, seconds, error };
    this.args.onSwap?.(result);
    return result;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    this.draining.add(entry);
    if (entry.leases === 0) this.dispose(entry);
  }

  private dispose(entry: Entry): void {
    if (entry.disposed) return;
    entry.disposed = true;
    this.draining.delete(entry);
    safeDispose(entry.model, this.args.onDispose);
    if (this.draining.size === 0 && this.drained !== null) {
      const resolve = this.drained;
      this.drained = null;
      resolve();
    }
  }
}

function safeDispose(model: LoadedModel, onDispose: ModelHolderArgs['onDispose']): void {
  try {
    model.dispose();
    onDispose?.(model.version);
  } catch (err) {
    onDispose?.(model.version, err);
  }
}

/** Rejects a model whose description cannot be served (a half-written or mismatched version). */
function validateModel(model: LoadedModel, version: number): void {
  if (model.version !== version) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_MODEL', `loader returned version ${model.version} for version ${version}`, { version, loaded: model.version });
  }
  if (model.labels.length === 0) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_MODEL', `version ${version} has no labels`, { version });
  }
  if (model.inputShape.length === 0 || !model.inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new BonsaiError('BONSAI_DAEMON_BAD_MODEL', `version ${version} has an invalid input shape [${model.inputShape.join(', ')}]`, { version, inputShape: [...model.inputShape] });
  }
}
