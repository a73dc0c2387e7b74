/**
 * Every bonsai metric on one prom-client Registry (not the global one), plus
 * Node's default process metrics. Names follow Prometheus conventions: prefix
 * `bonsai_`, base units (seconds, bytes, ratios in 0..1), `_total` counters,
 * bounded labels, counters pre-initialised to 0 so no series is missing.
 * Each metric is documented in docs/metrics.md; a test keeps the two equal.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftScore } from './drift.ts';
import { TRAINING_PHASES, type CorePhase, type Phase } from '../../core/index.ts';
import { MODALITIES } from '../../core/models/options.ts';

/** Values of the bounded labels, pre-initialised where a counter uses them. */
export const LABEL_VALUES = {
  modality: MODALITIES,
  /** As pipelines/ingest reports them (rejected files go to quarantine/). */
  ingestOutcome: ['accepted', 'duplicate', 'relabeled', 'rejected'],
  trigger: ['threshold', 'cron', 'max_wait', 'manual'],
  updateOutcome: ['promoted', 'rejected', 'failed', 'aborted'],
  /** Where a write failed for lack of space (daemon/storage.ts). */
  storageSite: ['ingest', 'update', 'registry'],
  /**
   * Phases (core/train/phase.ts) timed by `bonsai_update_duration_seconds`: training, `evaluate`
   * (every validation pass: core's `eval` and the trainer's `evaluate` step; `durationPhaseOf`)
   * and the whole update, `total`.
   */
  updatePhase: [...TRAINING_PHASES, 'evaluate', 'total'],
  /** Phases that train (`bonsai_training_sample_epochs_total`). */
  trainingPhase: TRAINING_PHASES,
  /** Phases of core that run validation passes (`bonsai_training_eval_samples_total`). */
  evalPhase: ['eval', 'prune', 'prune-nonrecoverable'] satisfies CorePhase[],
  swapOutcome: ['ok', 'failed'],
  /** What a damaged champion was replaced for: the served model, or an update's parent and gate. */
  fallbackUse: ['serving', 'parent'],
} as const;

/** A phase's label value of `bonsai_update_duration_seconds`: every validation pass counts as `evaluate`; null for the steps it does not time. */
export function durationPhaseOf(phase: Phase): (typeof LABEL_VALUES.updatePhase)[number] | null {
  if (phase === 'eval' || phase === 'evaluate') return 'evaluate';
  return phase === 'load' || phase === 'publish' ? null : phase;
}

/** Buckets of `bonsai_predict_duration_seconds`: 0.5 ms to 5 s. */
export const PREDICT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Buckets of `bonsai_update_duration_seconds`: 1 s to 2 h. */
export const UPDATE_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** What `tf.memory()` returns, as far as the metrics need it. */
export interface TfMemoryInfo {
  numTensors: number;
  numBytes: number;
}

/** Options of `createMetrics`. */
export interface MetricsArgs {
  /** bonsai's version (package.json). */
  version: string;
  /** tfjs-core's version. */
  tfjsVersion?: string;
  /** The tfjs backend in use (`tensorflow`, `wasm`, `cpu`). */
  backend?: string;
  /** Reads tensor count and bytes (pass `() => tf.memory()`). */
  tfMemory?: () => TfMemoryInfo;
  /** Also collect Node's default process metrics (default true). */
  defaultMetrics?: boolean;
}

/** Sources read at scrape time for the metrics that summarise a window. */
export interface MetricSources {
  /** Prequential accuracy of the live model (null before the first sample). */
  prequentialAccuracy?: () => number | null;
  /** Current drift scores. */
  drift?: () => DriftScore[];
  /** Fraction of recent predictions per class label. */
  predictionClasses?: () => Array<{ label: string; ratio: number }>;
  /** Bytes of request bodies the HTTP server holds in flight (daemon/server/inflight.ts). */
  inflightBodyBytes?: () => number;
}

/** `bonsai_http_inflight_body_bytes`, read from `sources.inflightBodyBytes` on every scrape (0 without a server). */
function inflightBodyGauge(sources: MetricSources, registers: Registry[]): Gauge {
  return new Gauge({
    name: 'bonsai_http_inflight_body_bytes',
    help: 'Bytes of request bodies in flight (declared Content-Length, reserved until answered); capped by server.maxInflightBodyBytes.',
    registers,
    collect() {
      const read = sources.inflightBodyBytes;
      this.set(read === undefined ? 0 : read());
    },
  });
}

/** `bonsai_tf_tensors` and `bonsai_tf_memory_bytes`, read from `tfMemory` on every scrape. */
function tfGauges(tfMemory: MetricsArgs['tfMemory'], registers: Registry[]): { tensors: Gauge; bytes: Gauge } {
  const tensors = new Gauge({
    name: 'bonsai_tf_tensors',
    help: 'Tensors allocated by tfjs (a rising count is a leak).',
    registers,
    collect() {
      if (tfMemory !== undefined) this.set(tfMemory().numTensors);
    },
  });
  const bytes = new Gauge({
    name: 'bonsai_tf_memory_bytes',
    help: 'Bytes held by tfjs tensors.',
    registers,
    collect() {
      if (tfMemory !== undefined) this.set(tfMemory().numBytes);
    },
  });
  return { tensors, bytes };
}

/** The registry and typed handles on every bonsai metric. */
export class BonsaiMetrics {
  readonly registry = new Registry();
  /** Set these to feed the window metrics; read on every scrape. */
  readonly sources: MetricSources = {};

  readonly buildInfo: Gauge<'version' | 'node_version' | 'tfjs_version' | 'backend'>;
  readonly ingestFiles: Counter<'modality' | 'outcome'>;
  readonly ingestStuck: Counter;
  readonly storageFull: Gauge;
  readonly storageFullErrors: Counter<'site'>;
  readonly pendingSamples: Gauge;
  readonly storeSamples: Gauge<'split'>;
  readonly updates: Counter<'trigger' | 'outcome'>;
  readonly updateDuration: Histogram<'phase'>;
  readonly trainingSampleEpochs: Counter<'phase'>;
  readonly trainingFlops: Counter;
  readonly trainingEvalSamples: Counter<'phase'>;
  readonly trainingEvalFlops: Counter;
  readonly validationSamples: Gauge;
  readonly validationAdequate: Gauge;
  readonly modelParameters: Gauge<'role' | 'kind'>;
  readonly modelDensity: Gauge<'role' | 'layer'>;
  readonly modelInfo: Gauge<'version' | 'role'>;
  readonly modelSwaps: Counter<'outcome'>;
  readonly championFallbacks: Counter<'use'>;
  readonly evalAccuracy: Gauge<'role' | 'dataset'>;
  readonly evalError: Gauge<'role' | 'dataset'>;
  readonly prequentialAccuracy: Gauge;
  readonly driftScore: Gauge<'method' | 'scope'>;
  readonly predictionClassRatio: Gauge<'class'>;
  readonly predictRequests: Counter<'code'>;
  readonly predictDuration: Histogram;
  readonly tfTensors: Gauge;
  readonly tfMemoryBytes: Gauge;
  readonly httpInflightBodyBytes: Gauge;

  private readonly roles = new Map<string, string>();
  private build: { version: string; tfjsVersion: string; backend: string };

  constructor(args: MetricsArgs) {
    const registers = [this.registry];
    const sources = this.sources;
    this.build = { version: args.version, tfjsVersion: args.tfjsVersion ?? 'unknown', backend: args.backend ?? 'unknown' };

    this.buildInfo = new Gauge({
      name: 'bonsai_build_info',
      help: 'Constant 1, labelled with the bonsai version, Node.js version, tfjs version and tfjs backend.',
      labelNames: ['version', 'node_version', 'tfjs_version', 'backend'],
      registers,
    });
    this.ingestFiles = new Counter({ name: 'bonsai_ingest_files_total', help: 'Files taken from the inbox, by modality and outcome.', labelNames: ['modality', 'outcome'], registers });
    this.ingestStuck = new Counter({ name: 'bonsai_ingest_stuck_files_total', help: 'Inbox entries that could be neither ingested nor moved out of the inbox, each counted once (log event ingest.stuck).', registers });
    this.storageFull = new Gauge({ name: 'bonsai_storage_full', help: '1 while writes under the state directory fail for lack of space (ENOSPC, EDQUOT, SQLITE_FULL), else 0 (log events storage.full and storage.recovered).', registers });
    this.storageFullErrors = new Counter({ name: 'bonsai_storage_full_errors_total', help: 'Operations that failed for lack of space under the state directory, by where they failed (ingest, update, registry).', labelNames: ['site'], registers });
    this.pendingSamples = new Gauge({ name: 'bonsai_pending_samples', help: 'Stored samples not yet used for training (the update threshold counts these).', registers });
    this.storeSamples = new Gauge({ name: 'bonsai_store_samples', help: 'Samples in the sample store, by split.', labelNames: ['split'], registers });
    this.updates = new Counter({ name: 'bonsai_updates_total', help: 'Model updates (training runs), by trigger and outcome.', labelNames: ['trigger', 'outcome'], registers });
    this.updateDuration = new Histogram({ name: 'bonsai_update_duration_seconds', help: 'Wall time of the phases of an update, in seconds.', labelNames: ['phase'], buckets: UPDATE_BUCKETS, registers });
    this.trainingSampleEpochs = new Counter({ name: 'bonsai_training_sample_epochs_total', help: 'Samples seen by training (growth-gradient passes included), by phase.', labelNames: ['phase'], registers });
    this.trainingFlops = new Counter({ name: 'bonsai_training_flops_total', help: 'Floating-point operations spent on training (estimated from live connections).', registers });
    this.trainingEvalSamples = new Counter({ name: 'bonsai_training_eval_samples_total', help: 'Samples through forward-only validation passes of updates (pruning decisions, measurements), by phase.', labelNames: ['phase'], registers });
    this.trainingEvalFlops = new Counter({ name: 'bonsai_training_eval_flops_total', help: 'Floating-point operations of the validation passes of updates (estimated from live connections).', registers });
    this.validationSamples = new Gauge({ name: 'bonsai_validation_samples', help: 'Validation samples the last update measured, pruned and gated on.', registers });
    this.validationAdequate = new Gauge({ name: 'bonsai_validation_adequate', help: '1 when the last update\'s validation set could resolve the loss its decisions judge, 0 when it pruned conservatively; NaN before the first update (and in a serving-only process).', registers });
    // Not known until an update says: 0 would read as "pruned conservatively" and pull the dashboard's min() down.
    this.validationAdequate.set(Number.NaN);
    this.modelParameters = new Gauge({ name: 'bonsai_model_parameters', help: 'Parameters of a model: live connections incl. biases (kind=live) or the dense count (kind=dense).', labelNames: ['role', 'kind'], registers });
    this.modelDensity = new Gauge({ name: 'bonsai_model_density_ratio', help: 'Fraction of a layer\'s connections that are live (mask ones / mask size).', labelNames: ['role', 'layer'], registers });
    this.modelInfo = new Gauge({ name: 'bonsai_model_info', help: 'Constant 1, labelled with the model version holding each role.', labelNames: ['version', 'role'], registers });
    this.modelSwaps = new Counter({ name: 'bonsai_model_swaps_total', help: 'Hot swaps of the served model, by outcome (failed = the old model kept serving).', labelNames: ['outcome'], registers });
    this.championFallbacks = new Counter({
      name: 'bonsai_champion_fallbacks_total',
      help: 'Times the champion failed its checksums (or would not load) and an earlier intact champion was used instead, by use (serving, parent).',
      labelNames: ['use'],
      registers,
    });
    this.evalAccuracy = new Gauge({ name: 'bonsai_eval_accuracy_ratio', help: 'Accuracy of a model on an evaluation set, 0..1.', labelNames: ['role', 'dataset'], registers });
    this.evalError = new Gauge({ name: 'bonsai_eval_error_ratio', help: 'Error rate (classification) or word error rate (speech) of a model on an evaluation set.', labelNames: ['role', 'dataset'], registers });
    this.prequentialAccuracy = new Gauge({
      name: 'bonsai_prequential_accuracy_ratio',
      help: 'Accuracy of the live model on new labelled samples scored before training on them (sliding window); NaN before the first.',
      registers,
      collect() {
        const read = sources.prequentialAccuracy;
        const v = read === undefined ? null : read();
        // NaN before the first scored sample, and in a serving-only process, which scores none.
        this.set(v === null ? Number.NaN : v);
      },
    });
    this.driftScore = new Gauge({
      name: 'bonsai_drift_score',
      help: 'Drift of recent inputs or predictions from the training reference (method psi or js).',
      labelNames: ['method', 'scope'],
      registers,
      collect() {
        const read = sources.drift;
        if (read === undefined) return;
        this.reset();
        for (const s of read()) this.set({ method: s.method, scope: s.scope }, s.value);
      },
    });
    this.predictionClassRatio = new Gauge({
      name: 'bonsai_prediction_class_ratio',
      help: 'Fraction of recent predictions per class.',
      labelNames: ['class'],
      registers,
      collect() {
        const read = sources.predictionClasses;
        if (read === undefined) return;
        this.reset();
        for (const c of read()) this.set({ class: c.label }, c.ratio);
      },
    });
    this.predictRequests = new Counter({ name: 'bonsai_predict_requests_total', help: 'Requests to POST /v1/predict, by HTTP status code.', labelNames: ['code'], registers });
    this.predictDuration = new Histogram({ name: 'bonsai_predict_duration_seconds', help: 'Time to answer POST /v1/predict (parse, preprocess, predict), in seconds.', buckets: PREDICT_BUCKETS, registers });
    ({ tensors: this.tfTensors, bytes: this.tfMemoryBytes } = tfGauges(args.tfMemory, registers));
    this.httpInflightBodyBytes = inflightBodyGauge(sources, registers);
    this.setBuildInfo({});
    this.zeroSeries();
    if (args.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Exports every series of the labelled counters at 0, so rates and alerts see them before the first event. */
  private zeroSeries(): void {
    for (const modality of LABEL_VALUES.modality) {
      for (const outcome of LABEL_VALUES.ingestOutcome) this.ingestFiles.inc({ modality, outcome }, 0);
    }
    for (const trigger of LABEL_VALUES.trigger) {
      for (const outcome of LABEL_VALUES.updateOutcome) this.updates.inc({ trigger, outcome }, 0);
    }
    for (const phase of LABEL_VALUES.updatePhase) this.updateDuration.zero({ phase });
    for (const phase of LABEL_VALUES.trainingPhase) this.trainingSampleEpochs.inc({ phase }, 0);
    for (const phase of LABEL_VALUES.evalPhase) this.trainingEvalSamples.inc({ phase }, 0);
    for (const outcome of LABEL_VALUES.swapOutcome) this.modelSwaps.inc({ outcome }, 0);
    for (const use of LABEL_VALUES.fallbackUse) this.championFallbacks.inc({ use }, 0);
    for (const site of LABEL_VALUES.storageSite) this.storageFullErrors.inc({ site }, 0);
    this.predictRequests.inc({ code: '200' }, 0);
  }

  /** Updates the build labels (e.g. once the backend is known). */
  setBuildInfo(update: { version?: string; tfjsVersion?: string; backend?: string }): void {
    this.build = { ...this.build, ...Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) };
    this.buildInfo.reset();
    this.buildInfo.set({ version: this.build.version, node_version: process.versions.node, tfjs_version: this.build.tfjsVersion, backend: this.build.backend }, 1);
  }

  /** Marks `version` as holding `role` (serving, champion, candidate), replacing the role's previous version; null clears it. */
  setModelInfo(role: string, version: number | null): void {
    const previous = this.roles.get(role);
    if (previous !== undefined) this.modelInfo.remove({ version: previous, role });
    this.roles.delete(role);
    if (version !== null) {
      this.roles.set(role, String(version));
      this.modelInfo.set({ version: String(version), role }, 1);
    }
  }

  /** The Prometheus text exposition of every metric. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A fresh registry with every bonsai metric. */
export function createMetrics(args: MetricsArgs): BonsaiMetrics {
  return new BonsaiMetrics(args);
}
