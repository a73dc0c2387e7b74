/**
 * One update from start to end, in the daemon process:
 *
 *   snapshot (last arrival, champion) -> trainer child (train, measure, publish
 *   a candidate) -> gate (daemon/trainer/gate.ts) -> promoted: drain prequential
 *   scoring, load + warm + swap, then `models/CURRENT` -> rejected: kept with
 *   the reason -> the samples of the snapshot are marked trained -> retention.
 *
 * An update ends `promoted`, `rejected`, `failed` (the child crashed or
 * reported an error, or the candidate could not be loaded) or `aborted` (the
 * daemon stopped it). In every case but `promoted` the champion keeps serving.
 * Samples are marked trained only when a candidate was measured (promoted or
 * rejected): a failed or aborted update leaves them pending for the next one.
 */
import { EventEmitter } from 'node:events';
import { BonsaiError } from '../../core/errors.ts';
import type { SampleStore } from '../../pipelines/store/index.ts';
import { LABEL_VALUES, durationPhaseOf, type BonsaiMetrics } from '../metrics/registry.ts';
import { reportModel } from '../metrics/model-report.ts';
import { isPhase, type Phase } from '../../core/index.ts';
import { intactChampion, type ModelRegistry } from '../registry/index.ts';
import type { ModelHolder } from '../serving/holder.ts';
import type { PrequentialScorer } from '../prequential-scorer.ts';
import type { Log } from '../logging.ts';
import { noSpaceCode, STORAGE_FULL_CODE, type StorageHealth } from '../storage.ts';
import type { UpdateRequest } from '../triggers/scheduler.ts';
import { decide } from './gate.ts';
import { classNotLearned } from './classes.ts';
import { startTrainer, type TrainerHandle, type TrainerOptions } from './process.ts';
import type { DataSizes, TrainJob, TrainProgress, TrainResult } from './protocol.ts';

/** How an update ended. */
export type UpdateOutcome = 'promoted' | 'rejected' | 'failed' | 'aborted';

/** The record of a finished update (logged, in `/v1/status`, emitted). */
export interface UpdateRecord {
  id: string;
  trigger: UpdateRequest['trigger'];
  reason: string;
  outcome: UpdateOutcome;
  /** The candidate's version (null when none was published). */
  version: number | null;
  /** The champion when the update started. */
  parent: number | null;
  candidateError: number | null;
  championError: number | null;
  /** The gate's reason, or the error's message. */
  verdict: string;
  error?: { code: string; message: string };
  sizes?: DataSizes;
  liveParams?: number;
  denseParams?: number;
  sampleEpochs?: number;
  epochs?: number;
  startedAt: string;
  seconds: number;
}

/** The update in progress. */
export interface UpdateState {
  id: string;
  trigger: UpdateRequest['trigger'];
  startedAt: string;
  /** `train` (child running), `gate`, `swap`, `finish`. */
  stage: string;
  /** The trainer child's pid while it runs. */
  pid: number | null;
  /** The latest progress report. */
  progress: TrainProgress | null;
  champion: number | null;
  upToSeq: number;
}

/** Events of `Updater.events`. */
export interface UpdaterEvents {
  started: [UpdateState];
  progress: [UpdateState, TrainProgress];
  finished: [UpdateRecord];
}

/** Options of `Updater`. */
export interface UpdaterArgs {
  store: SampleStore;
  registry: ModelRegistry;
  holder: ModelHolder;
  metrics: BonsaiMetrics;
  prequential: PrequentialScorer | null;
  log: Log;
  /** The job without the per-update fields. */
  job: Omit<TrainJob, 'id' | 'trigger' | 'upToSeq' | 'champion'>;
  /** Gate tolerance (config `gate.tolerance`). */
  tolerance: number;
  /** Gate margin in standard errors of the paired difference (config `gate.margin`). */
  margin: number;
  /** Versions kept by retention besides the champion and its rollback target (config `registry.keep`). */
  keep: number;
  /** Starts the trainer (tests inject a fake or an in-process one); default the child process. */
  startTrainer?: (options: TrainerOptions) => TrainerHandle;
  /** Niceness of the child. */
  nice?: number;
  /** Reports a full disk once per episode (daemon/storage.ts); absent in tests that do not look. */
  storage?: StorageHealth;
}

const now = (): number => performance.now();

/** Runs updates one at a time (the scheduler guarantees it); see the file comment. */
export class Updater {
  readonly events = new EventEmitter<UpdaterEvents>();
  private state: UpdateState | null = null;
  private handle: TrainerHandle | null = null;
  private running: Promise<UpdateRecord> | null = null;
  private lastRecord: UpdateRecord | null = null;
  private stopping: string | null = null;
  private readonly history: UpdateRecord[] = [];

  constructor(private readonly args: UpdaterArgs) {}

  /** The update in progress, or null. */
  current(): UpdateState | null {
    return this.state ? { ...this.state } : null;
  }

  /** The last finished update, or null. */
  last(): UpdateRecord | null {
    return this.lastRecord;
  }

  /** Finished updates since start, oldest first (at most 100). */
  records(): UpdateRecord[] {
    return [...this.history];
  }

  /** Runs one update; never rejects (the record says how it ended). */
  run(request: UpdateRequest): Promise<UpdateRecord> {
    if (this.running) {
      return Promise.resolve(this.record(request, 'failed', null, null, Date.now(), now(), {
        error: new BonsaiError('BONSAI_DAEMON_UPDATE_RUNNING', `update ${this.state?.id} is running; ${request.id} was not started`, { running: this.state?.id, id: request.id }),
      }));
    }
    const run = this.execute(request).finally(() => {
      this.running = null;
      this.state = null;
      this.handle = null;
    });
    this.running = run;
    return run;
  }

  /** Stops the update in progress (kills the trainer; a gate or swap in progress is finished) and waits for it. */
  async stop(reason: string): Promise<void> {
    this.stopping = reason;
    this.handle?.kill(reason);
    await this.running;
  }

  private async execute(request: UpdateRequest): Promise<UpdateRecord> {
    const startedAt = Date.now();
    const t0 = now();
    const done = (outcome: UpdateOutcome, result: TrainResult | null, parent: number | null, extra: { verdict?: string; error?: unknown }) =>
      this.finish(this.record(request, outcome, result, parent, startedAt, t0, extra));
    if (this.stopping !== null) {
      return done('aborted', null, null, { error: new BonsaiError('BONSAI_DAEMON_UPDATE_ABORTED', `the update was not started: ${this.stopping}`) });
    }
    const { store, metrics } = this.args;
    const upToSeq = store.lastSeq();
    const pending = store.counts().pending;
    let champion: number | null;
    try {
      champion = await this.parentOf(request);
    } catch (err) {
      return done('failed', null, null, { error: err });
    }
    this.begin(request, startedAt, champion, upToSeq, pending);
    let result: TrainResult;
    try {
      result = await this.train({ ...this.args.job, id: request.id, trigger: request.trigger, upToSeq, champion });
    } catch (err) {
      const aborted = err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_UPDATE_ABORTED';
      return done(aborted ? 'aborted' : 'failed', null, champion, { error: err });
    }
    this.reportTrained(request.id, result);
    try {
      const { outcome, verdict, error } = await this.gate(result);
      await this.settle(outcome, result, upToSeq);
      metrics.setModelInfo('candidate', null);
      return done(outcome, result, champion, { verdict, error });
    } catch (err) {
      metrics.setModelInfo('candidate', null);
      return done('failed', result, champion, { error: err });
    }
  }

  /** The update is under way: its state, the log line and the `started` event. */
  private begin(request: UpdateRequest, startedAt: number, champion: number | null, upToSeq: number, pending: number): void {
    this.state = { id: request.id, trigger: request.trigger, startedAt: new Date(startedAt).toISOString(), stage: 'train', pid: null, progress: null, champion, upToSeq };
    this.args.log.info('update.started', { id: request.id, trigger: request.trigger, reason: request.reason, champion, upToSeq, pending });
    this.events.emit('started', { ...this.state });
  }

  /** Trains the candidate in the trainer child (killed at once if a stop came while it started). */
  private async train(job: TrainJob): Promise<TrainResult> {
    try {
      const handle = (this.args.startTrainer ?? startTrainer)({
        job,
        nice: this.args.nice,
        onProgress: (p) => this.onProgress(p),
      });
      this.handle = handle;
      if (this.state) this.state.pid = handle.pid ?? null;
      if (this.stopping !== null) handle.kill(this.stopping);
      return await handle.result;
    } finally {
      this.handle = null;
      if (this.state) this.state.pid = null;
    }
  }

  private reportTrained(id: string, result: TrainResult): void {
    this.relayCost(result);
    this.reportValidation(id, result);
    const classes = result.classes;
    const unlearned = classes ? classNotLearned(result.candidateError, classes) : null;
    if (classes && unlearned) {
      const pct = (e: number): string => `${(100 * e).toFixed(2)} %`;
      const worst = `${JSON.stringify(classes.worst.label)} wrong on ${pct(classes.worst.error)} of its ${classes.worst.samples} validation samples`;
      this.args.log.warn('update.class_not_learned', {
        id, version: result.version, kind: unlearned, candidateError: result.candidateError, majority: classes.majority, balancedError: classes.balancedError, worst: classes.worst,
        reason: unlearned === 'majority'
          ? `validation error ${pct(result.candidateError)} is no better than always answering ${JSON.stringify(classes.majority.label)} (${pct(classes.majority.error)}): the model has not learned the other classes (mean error per class ${pct(classes.balancedError)}; ${worst}). More samples of the rare classes, or more epochs, help`
          : `${worst}, where the error over all samples is ${pct(result.candidateError)} (mean per class ${pct(classes.balancedError)}): a class the model has not learned, often a rare one. More samples of it, or more epochs, help`,
      });
    }
    const sel = result.sizes.selection;
    if (sel) {
      const mib = (bytes: number): number => Number((bytes / 2 ** 20).toPrecision(3));
      this.args.log.info('update.data_sampled', {
        id, budgetMiB: mib(sel.budgetBytes), train: sel.train, validation: sel.validation, test: sel.test,
        reason: `the data exceed algorithm.trainingDataMegabytes (${mib(sel.budgetBytes)} MiB): trained on ${sel.train.kept} of ${sel.train.of} training samples (the new ones first, then a random sample of the earlier ones), judged on ${sel.validation.kept} of ${sel.validation.of} validation samples`,
      });
    }
    this.args.log.info('update.trained', {
      id, version: result.version, parent: result.parent, candidateError: result.candidateError, championError: result.championError,
      liveParams: result.liveParams, denseParams: result.denseParams, density: round(result.density), sampleEpochs: result.cost.sampleEpochs,
      epochs: round(result.cost.epochs), flops: result.cost.flops, trainSeconds: round(result.cost.wallSeconds), sizes: result.sizes, backend: result.backend,
      prune: { ...result.prune, referenceError: round(result.prune.referenceError) },
      ...(result.classes && { balancedError: round(result.classes.balancedError), majorityError: round(result.classes.majority.error), worstClass: result.classes.worst }),
    });
  }

  private setStage(stage: string): void {
    if (this.state) this.state.stage = stage;
  }

  /** The gate's decision on the candidate; one that passes is swapped in and promoted, one that fails is rejected. */
  private async gate(result: TrainResult): Promise<{ outcome: UpdateOutcome; verdict: string; error?: unknown }> {
    const { registry, metrics } = this.args;
    this.setStage('gate');
    const candidate = await registry.get(result.version);
    reportModel(metrics, 'candidate', candidate.manifest);
    const decision = decide({
      candidateVersion: result.version, candidateError: result.candidateError, championVersion: result.parent, championError: result.championError,
      tolerance: this.args.tolerance, samples: result.sizes.validation > 0 ? result.sizes.validation : result.sizes.allData,
      samplesOf: result.sizes.validation > 0 ? 'validation' : 'training',
      evidence: result.gateEvidence, margin: this.args.margin,
    });
    if (!decision.promote) {
      await registry.reject(result.version, decision.reason);
      return { outcome: 'rejected', verdict: decision.reason };
    }
    return this.swapAndPromote(result.version, decision.reason);
  }

  /**
   * Serves the candidate, then writes CURRENT. A candidate that cannot be served is rejected;
   * when the promotion fails, the old champion (still in CURRENT) is served again.
   */
  private async swapAndPromote(version: number, reason: string): Promise<{ outcome: UpdateOutcome; verdict: string; error?: unknown }> {
    const { registry, holder, log } = this.args;
    this.setStage('swap');
    await this.args.prequential?.drain();
    const swap = await holder.swapTo(version);
    if (swap.outcome === 'failed') {
      const verdict = `passed the gate (${reason}) but could not be served: ${swap.error?.message ?? 'load failed'}`;
      await registry.reject(version, verdict).catch((err: unknown) => log.error('registry.reject_failed', { version, error: err }));
      return { outcome: 'failed', verdict, error: swap.error };
    }
    try {
      await registry.promote(version, reason);
      return { outcome: 'promoted', verdict: reason };
    } catch (err) {
      if (swap.previousVersion !== null) await holder.swapTo(swap.previousVersion);
      return { outcome: 'failed', verdict: `passed the gate but the promotion failed: ${(err as Error).message}`, error: err };
    }
  }

  /** After a decision: the samples it saw are marked trained; a new champion is reported and old versions removed. */
  private async settle(outcome: UpdateOutcome, result: TrainResult, upToSeq: number): Promise<void> {
    const { store, registry, metrics, log } = this.args;
    this.setStage('finish');
    if (outcome === 'promoted' || outcome === 'rejected') {
      const marked = store.markTrained({ upToSeq }, result.version);
      log.debug('store.marked_trained', { version: result.version, upToSeq, samples: marked });
    }
    if (outcome !== 'promoted') return;
    reportModel(metrics, 'champion', (await registry.get(result.version)).manifest);
    try {
      const deleted = await registry.retain(this.args.keep);
      if (deleted.length > 0) log.info('registry.retained', { deleted, keep: this.args.keep });
    } catch (err) {
      if (!this.args.storage?.failed('registry', err)) log.warn('registry.retain_failed', { error: err });
    }
  }

  /**
   * The version an update grows from and gates against: the champion when its checksums verify,
   * else the newest intact earlier champion (logged as an error and counted), else none (a first model).
   */
  private async parentOf(request: UpdateRequest): Promise<number | null> {
    const choice = await intactChampion(this.args.registry);
    if (choice.champion !== null && choice.version !== choice.champion) {
      this.args.log.error('update.champion_fallback', { id: request.id, champion: choice.champion, version: choice.version, skipped: choice.skipped });
      this.args.metrics.championFallbacks.inc({ use: 'parent' });
    }
    return choice.version;
  }

  private onProgress(p: TrainProgress): void {
    if (!this.state) return;
    this.state.progress = p;
    if (p.kind === 'phase') this.args.log.info('update.phase', { id: this.state.id, phase: p.phase });
    // A line per epoch, growth step and pruning iteration at the default level: an update runs for
    // minutes to hours, and these are how its progress shows in a service's log.
    else if (p.kind === 'eval') this.args.log.debug('update.progress', { id: this.state.id, ...p });
    else this.args.log.info('update.progress', { id: this.state.id, ...p });
    this.events.emit('progress', { ...this.state }, p);
  }

  /** The validation set's size and adequacy into the metrics, and a warning when it was too small. */
  private reportValidation(id: string, result: TrainResult): void {
    const v = result.validationAdequacy;
    this.args.metrics.validationSamples.set(v.samples);
    this.args.metrics.validationAdequate.set(v.adequate ? 1 : 0);
    if (!v.adequate) {
      this.args.log.warn('update.validation_small', {
        id, samples: v.samples, minSamples: v.minSamples, error: v.error,
        reason: v.samples === 0
          ? 'no validation samples: nothing held out can judge a loss, so the model was not pruned and the gate compared on the training data'
          : `${v.samples} validation samples cannot resolve a loss of a point at ${(100 * v.error).toFixed(2)} % error (${v.minSamples} needed): pruned conservatively (margin capped at half a point, half the fraction)`,
      });
    }
  }

  /** Training cost and phase durations into the metrics; every validation pass counts as `evaluate` (`durationPhaseOf`). */
  private relayCost(result: TrainResult): void {
    const { metrics } = this.args;
    const training: readonly Phase[] = LABEL_VALUES.trainingPhase;
    const evalPhases: readonly Phase[] = LABEL_VALUES.evalPhase;
    for (const [phase, cost] of Object.entries(result.cost.phases)) {
      if (!isPhase(phase)) continue;
      if (training.includes(phase)) metrics.trainingSampleEpochs.inc({ phase }, cost.sampleEpochs);
      if (evalPhases.includes(phase)) metrics.trainingEvalSamples.inc({ phase }, cost.evalSamples);
    }
    metrics.trainingFlops.inc(result.cost.flops);
    metrics.trainingEvalFlops.inc(result.cost.evalFlops);
    const seconds = new Map<string, number>();
    for (const [phase, s] of Object.entries(result.timings)) {
      const name = isPhase(phase) ? durationPhaseOf(phase) : null;
      if (name !== null && s !== undefined) seconds.set(name, (seconds.get(name) ?? 0) + s);
    }
    for (const [phase, s] of seconds) metrics.updateDuration.observe({ phase }, s);
  }

  private record(request: UpdateRequest, outcome: UpdateOutcome, result: TrainResult | null, parent: number | null, startedAt: number, t0: number,
    extra: { verdict?: string; error?: unknown }): UpdateRecord {
    const err = extra.error;
    const message = err instanceof Error ? err.message : String(err);
    const errno = err === undefined ? null : noSpaceCode(err);
    // A full disk is reported once per episode (daemon/storage.ts); the update's own record says so in its code.
    if (errno !== null) this.args.storage?.failed('update', err, { id: request.id });
    const error = err === undefined ? undefined
      : errno !== null ? { code: STORAGE_FULL_CODE, message: `no space left under the state directory (${errno}): ${message}` }
        : err instanceof BonsaiError ? { code: err.code, message: err.message } : { code: 'BONSAI_DAEMON_UPDATE_FAILED', message };
    return {
      id: request.id, trigger: request.trigger, reason: request.reason, outcome,
      version: result?.version ?? null, parent: result?.parent ?? parent,
      candidateError: result?.candidateError ?? null, championError: result?.championError ?? null,
      verdict: extra.verdict ?? error?.message ?? outcome, error,
      sizes: result?.sizes, liveParams: result?.liveParams, denseParams: result?.denseParams,
      sampleEpochs: result?.cost.sampleEpochs, epochs: result?.cost.epochs,
      startedAt: new Date(startedAt).toISOString(), seconds: (now() - t0) / 1000,
    };
  }

  private finish(record: UpdateRecord): UpdateRecord {
    const { metrics, log } = this.args;
    metrics.updates.inc({ trigger: record.trigger, outcome: record.outcome });
    metrics.updateDuration.observe({ phase: 'total' }, record.seconds);
    const fields = {
      id: record.id, trigger: record.trigger, version: record.version, parent: record.parent, candidateError: record.candidateError,
      championError: record.championError, verdict: record.verdict, liveParams: record.liveParams, seconds: round(record.seconds),
      ...(record.error ? { code: record.error.code } : {}),
    };
    if (record.outcome === 'failed') log.error('update.failed', fields);
    else log.info(`update.${record.outcome}`, fields);
    // A candidate was published (promoted or rejected): the state directory took its files.
    if (record.outcome === 'promoted' || record.outcome === 'rejected') this.args.storage?.succeeded('update');
    this.lastRecord = record;
    this.history.push(record);
    if (this.history.length > 100) this.history.shift();
    this.events.emit('finished', record);
    return record;
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
