/**
 * The inbox-to-store commit protocol, for one file or many:
 *
 *   read -> hash -> label -> (stored already? duplicate) -> process
 *     -> one store transaction per group of files (samples, duplicates,
 *        rejects, ingest-log rows; fsynced)
 *     -> only then each file leaves the inbox (finalize.ts).
 *
 * Files are prepared concurrently (`concurrency`, decoders are async) and
 * committed in groups (`batchSize` files or `maxDelayMs` after the first one
 * is ready, whichever comes first), so the fsync of a commit is paid once per
 * group. A file is moved only after the commit that records it. Nothing is ever
 * lost (a file leaves the inbox only once its outcome is durable) or stored
 * twice (ids are content hashes; the ingest log recognises a committed file
 * that a crash left in the inbox). One ingestor per store: the store's lock
 * makes it the only writer.
 */
import { resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { CommitOutcome, IngestRecord } from '../store/index.ts';
import type { IngestContext, IngestFile, IngestOutcome } from './context.ts';
import { decodeName, sourceOf, stateLayout } from './files.ts';
import { executeMoves, outcomeOf, planMove } from './finalize.ts';
import { prepare, type Prepared } from './prepare.ts';

/** How an ingestor groups work. */
export interface IngestorOptions {
  /** Files prepared (decoded) at the same time; default 8 (enough to keep decoders busy during a commit's fsync). */
  concurrency?: number;
  /** Most files per store transaction; default 64 (a commit plus its moves blocks the event loop for roughly 0.2 ms per file). */
  batchSize?: number;
  /** Longest a prepared file waits for its group to fill while more files are being prepared, in ms; default 20. A group is committed at once when nothing else is in progress. */
  maxDelayMs?: number;
}

interface Job {
  file: IngestFile;
  resolve: (o: IngestOutcome) => void;
  reject: (e: unknown) => void;
}

type Decided = Exclude<Prepared, { kind: 'skipped' }>;

/** Ingests inbox files with concurrent preparation and group commits. */
export class Ingestor {
  private readonly ctx: IngestContext;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly maxDelayMs: number;
  private readonly queue: Job[] = [];
  private readonly ready: { job: Job; prepared: Decided }[] = [];
  private readonly inFlight = new Map<string, Promise<IngestOutcome>>();
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(ctx: IngestContext, options: IngestorOptions = {}) {
    if (ctx.store.readonly) throw new BonsaiError('BONSAI_INGEST_STORE_READ_ONLY', `ingesting needs the store open for writing, ${ctx.store.path} is read-only`, { path: ctx.store.path });
    this.ctx = ctx;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.batchSize = Math.max(1, options.batchSize ?? 64);
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? 20);
  }

  /**
   * Ingests the inbox file at `path` (raw bytes for a name that is not UTF-8,
   * which is quarantined). Resolves with its outcome once the file has left the
   * inbox (or was skipped); rejects only when the store commit or its move
   * failed (the file then stays in the inbox for `recover` or a retry; the
   * other files of its group are not held back).
   * Asking again for a file in progress returns the same promise.
   */
  ingest(path: string | Buffer): Promise<IngestOutcome> {
    const named = typeof path === 'string' ? path : decodeName(path);
    const abs = named === null ? '' : resolve(named);
    const key = named === null ? `raw:${(path as Buffer).toString('hex')}` : abs;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    let file: IngestFile;
    try {
      const inbox = stateLayout(this.ctx.stateDir).inbox;
      if (named !== null) file = { path: abs, source: sourceOf(inbox, abs) };
      else {
        // A name that is not UTF-8: shown decoded lossily, moved by its raw path.
        const shown = resolve(new TextDecoder().decode(path as Buffer));
        file = { path: shown, source: sourceOf(inbox, shown), rawPath: path as Buffer };
      }
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closing) return Promise.resolve(stopping(file.source));
    const promise = new Promise<IngestOutcome>((res, rej) => {
      this.queue.push({ file, resolve: res, reject: rej });
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    this.pump();
    return promise;
  }

  /**
   * Takes no more files: those queued and not yet being prepared are answered `skipped`
   * (`BONSAI_INGEST_STOPPING`) and stay in the inbox for the next start; the files being
   * prepared are committed as usual. A stop then waits for a few files, not for a backlog
   * (15,000 queued files took 35 s, and a larger one outlived the supervisor's stop timeout).
   * Returns how many were left.
   */
  close(): number {
    this.closing = true;
    const left = this.queue.splice(0);
    for (const job of left) job.resolve(stopping(job.file.source));
    return left.length;
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.active++;
      prepare(job.file, this.ctx)
        .then((prepared) => {
          if (prepared.kind === 'skipped') job.resolve({ outcome: 'skipped', source: job.file.source, code: prepared.reason.code, message: prepared.reason.message });
          else this.ready.push({ job, prepared });
        }, (err: unknown) => job.reject(err))
        .finally(() => {
          this.active--;
          this.pump();
          this.schedule();
        });
    }
  }

  private schedule(): void {
    if (this.ready.length === 0) return;
    const idle = this.active === 0 && this.queue.length === 0;
    if (this.ready.length >= this.batchSize || idle || this.maxDelayMs === 0) {
      this.flush();
    } else {
      this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.ready.length > 0) {
      const group = this.ready.splice(0, this.batchSize);
      try {
        const outcomes = commitGroup(group.map((g) => g.prepared), this.ctx);
        group.forEach((g, i) => {
          const o = outcomes[i];
          if (o instanceof BonsaiError) g.job.reject(o);
          else g.job.resolve(o);
        });
      } catch (err) {
        group.forEach((g) => g.job.reject(err));
      }
      if (this.ready.length < this.batchSize && (this.active > 0 || this.queue.length > 0)) break;
    }
    if (this.ready.length > 0) this.schedule();
  }
}

/** The outcome of a file left in the inbox because the ingestor is closing. */
function stopping(source: string): IngestOutcome {
  return { outcome: 'skipped', source, code: 'BONSAI_INGEST_STOPPING', message: 'the daemon is stopping; the file stays in the inbox for the next start' };
}

/** Commits a group of prepared files in one transaction, then moves them; a file whose move failed gets its error instead of an outcome. */
function commitGroup(group: readonly Decided[], ctx: IngestContext): (IngestOutcome | BonsaiError)[] {
  const now = (ctx.now ?? (() => new Date()))();
  const records: IngestRecord[] = [];
  const index: number[] = [];
  group.forEach((p, i) => {
    if (p.kind === 'recovered') return;
    index.push(i);
    records.push(p.kind === 'rejected'
      ? { kind: 'rejected', id: p.id, source: p.file.source, fileKey: p.fileKey, code: p.reason.code, sidecars: p.sidecars }
      : { kind: 'sample', id: p.id, source: p.file.source, fileKey: p.fileKey, sample: p.sample, target: p.target, sidecars: p.sidecars });
  });
  const decided: CommitOutcome[] = group.map((p) => (p.kind === 'recovered' ? p.outcome : 'rejected'));
  const sources = group.map((p) => p.file.source);
  if (records.length > 0) {
    let committed;
    try {
      committed = ctx.store.commitIngest(records, { now: now.getTime(), beforeCommit: () => ctx.onStep?.('transaction', sources) });
    } catch (err) {
      if (err instanceof BonsaiError) throw err;
      throw new BonsaiError('BONSAI_INGEST_COMMIT_FAILED', `store commit of ${records.length} files failed: ${(err as Error).message}`, { sources }, { cause: err });
    }
    committed.forEach((o, k) => { decided[index[k]] = o; });
    ctx.onStep?.('commit', sources);
  }
  const reserved = new Set<string>();
  const moves = group.map((p, i) => planMove(p, decided[i], ctx, now, reserved));
  const failed = executeMoves(moves, ctx);
  return group.map((p, i) => failed[i] ?? outcomeOf(p, decided[i], moves[i], ctx));
}

/** Ingests one inbox file (no grouping). */
export function ingestFile(path: string, ctx: IngestContext): Promise<IngestOutcome> {
  return new Ingestor(ctx, { concurrency: 1, batchSize: 1, maxDelayMs: 0 }).ingest(path);
}

/**
 * Ingests many inbox files with concurrent preparation and group commits; the
 * outcomes are in the order of `paths`. Waits for every file, then throws the
 * first commit or move error if there was one.
 */
export async function ingestFiles(paths: readonly string[], ctx: IngestContext, options: IngestorOptions = {}): Promise<IngestOutcome[]> {
  const ingestor = new Ingestor(ctx, options);
  const settled = await Promise.allSettled(paths.map((p) => ingestor.ingest(p)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<IngestOutcome>).value);
}
