/**
 * `startDaemon(config)`: bonsai as a service. The parts are plugins started in
 * this order and stopped in reverse (daemon/lifecycle.ts):
 *
 *   state lock -> compute backend -> sample store (+ ingest recovery)
 *   -> model registry (+ its recovery) -> serving (load the champion)
 *   -> HTTP -> updates (scheduler + trainer) -> inbox watcher
 *
 * so shutdown stops watching first, then stops or finishes the update, drains
 * HTTP, frees the models and closes the store. Every start-up step is
 * idempotent crash recovery, so a restart after any crash finds a consistent
 * state: committed samples are in the store once (content-hash ids), files are
 * in the inbox (to ingest), archive/ or quarantine/, models are whole versions
 * or nothing, and CURRENT names the champion.
 */
import type { EventEmitter } from 'node:events';
import { join, relative, resolve } from 'node:path';
import * as tf from '../core/tf.ts';
import { backendInfo } from '../core/backend.ts';
import { BonsaiError } from '../core/errors.ts';
import type { UpdateConfig } from '../core/update/config.ts';
import type { Config } from '../config/index.ts';
import { processAudio } from '../pipelines/audio/index.ts';
import { processImage } from '../pipelines/image/index.ts';
import { Ingestor, processorByContent, recover, stateLayout, type IngestContext, type IngestOutcome } from '../pipelines/ingest/index.ts';
import { ManifestCache, resolveLabel } from '../pipelines/labels.ts';
import { openStore, type SampleStore } from '../pipelines/store/index.ts';
import type { Modality } from '../pipelines/types.ts';
import { buildServer, type ServerDeps } from './server/index.ts';
import { createMetrics, PrequentialWindow, swapObserver, type BonsaiMetrics } from './metrics/index.ts';
import { fallbackOrder, openRegistry, type ModelRegistry } from './registry/index.ts';
import { ModelHolder } from './serving/index.ts';
import { Lifecycle, handleSignals, type Plugin } from './lifecycle.ts';
import { createLog, type Log } from './logging.ts';
import { StuckEntries } from './stuck.ts';
import { registryLoader } from './loader.ts';
import { PrequentialScorer } from './prequential.ts';
import { Updater, reportModel, type TrainerHandle, type TrainerOptions, type UpdaterEvents, type ModelChoice } from './trainer/index.ts';
import { UpdateScheduler, type RequestAnswer, type TriggerCounts } from './triggers/index.ts';
import { InboxWatcher, lockStateDir } from './watch/index.ts';
import { audioSpec, imageSpec, backendPlugin, limitsOf, listenHttp, modelChoice, packageVersion, preprocessors, readToken, registryArtifacts, registryOps, updateConfig } from './wiring.ts';

export { modelChoice, readToken, updateConfig } from './wiring.ts';

/** Programmatic options of `startDaemon` beyond the config (tests, benchmarks, the demo). */
export interface DaemonOptions {
  /** Where events go; default a winston logger per `config.log`. */
  log?: Log;
  /** Overrides of the network: e.g. `{ arch: 'mlp', options: { hidden: '32' } }` (config `model.name` otherwise). */
  model?: Partial<ModelChoice>;
  /** Overrides of the grow-and-prune settings (config `algorithm` otherwise). */
  update?: Partial<UpdateConfig>;
  /** Bearer token of mutating routes; default from `config.server.tokenEnv` or `tokenFile`. */
  token?: string;
  /** bonsai's version for `bonsai_build_info`; default package.json's. */
  version?: string;
  /** Handle SIGTERM/SIGINT (graceful stop, a second signal exits at once); default false. */
  signals?: boolean;
  /** Starts the trainer (tests); default the child process. */
  startTrainer?: (options: TrainerOptions) => TrainerHandle;
  /** Niceness of the trainer child (default 10). */
  trainerNice?: number;
  /** Collect Node's default process metrics (default true). */
  defaultMetrics?: boolean;
}

/** A running daemon. */
export interface Daemon {
  readonly config: Config;
  /** `http://host:port` the server listens on. */
  readonly url: string;
  readonly port: number;
  readonly holder: ModelHolder;
  readonly store: SampleStore;
  readonly registry: ModelRegistry;
  readonly metrics: BonsaiMetrics;
  readonly scheduler: UpdateScheduler;
  readonly updater: Updater;
  readonly watcher: InboxWatcher;
  readonly prequential: PrequentialScorer;
  /** Update lifecycle events: `started`, `progress`, `finished`. */
  readonly events: EventEmitter<UpdaterEvents>;
  /** What `/v1/status` answers. */
  status(): Promise<Record<string, unknown>>;
  /** Starts an update now, or queues it (as `POST /v1/updates`). */
  requestUpdate(reason: string): RequestAnswer;
  /** Stops every part in reverse order; idempotent. */
  stop(reason?: string): Promise<void>;
  /** Resolves once stopped. */
  readonly stopped: Promise<void>;
}

/** Starts the daemon; resolves once it serves (or throws, with every started part stopped again). */
export async function startDaemon(config: Config, options: DaemonOptions = {}): Promise<Daemon> {
  if (config.role === 'server') {
    throw new BonsaiError('BONSAI_DAEMON_WRONG_ROLE', 'startDaemon runs the roles all and trainer; role server (serve a trainer\'s registry) runs with startServing (daemon/serving-only.ts), as bonsai start does', { role: config.role });
  }
  const log = options.log ?? createLog({ level: config.log.level, format: config.log.format });
  const stateDir = resolve(config.stateDir);
  const layout = stateLayout(stateDir);
  const modality: Modality = config.model.modality;
  const model = modelChoice(config, options.model);
  const update = updateConfig(config, options.update, model.arch);
  const token = options.token ?? readToken(config);
  const metrics = createMetrics({ version: options.version ?? packageVersion(), tfjsVersion: tf.version_core, tfMemory: () => tf.memory(), defaultMetrics: options.defaultMetrics });
  const window = new PrequentialWindow(config.metrics.prequentialWindow);
  const stuck = new StuckEntries(log, metrics.ingestStuck);
  metrics.sources.prequentialAccuracy = () => window.accuracy();

  // Filled in by the plugins' start, in order.
  let store!: SampleStore;
  let registry!: ModelRegistry;
  let holder!: ModelHolder;
  let prequential!: PrequentialScorer;
  let updater!: Updater;
  let scheduler!: UpdateScheduler;
  let watcher!: InboxWatcher;
  let url = '';
  let port = 0;

  const counts = (): TriggerCounts => {
    const c = store.counts();
    const oldest = store.db.prepare<[], number>('SELECT arrived_at FROM samples WHERE trained_version IS NULL ORDER BY seq LIMIT 1').pluck().get();
    return { pending: c.pending, total: c.total, oldestPendingAt: oldest ?? null, validation: c.bySplit.validation };
  };
  let gaugeTimer: NodeJS.Timeout | null = null;
  const refreshGauges = (): void => {
    const c = store.counts();
    metrics.pendingSamples.set(c.pending);
    for (const [split, n] of Object.entries(c.bySplit)) metrics.storeSamples.set({ split }, n);
  };
  const refreshSoon = (): void => {
    gaugeTimer ??= setTimeout(() => {
      gaugeTimer = null;
      if (store.db.open) refreshGauges();
    }, 200);
  };

  /**
   * Loads the champion; when it cannot be served (failed checksums: `BONSAI_DAEMON_MODEL_CORRUPT`),
   * the newest intact earlier champion instead, logged as an error and counted. CURRENT is left as it is.
   */
  const serveChampion = async (version: number): Promise<void> => {
    const first = await holder.swapTo(version);
    if (first.outcome !== 'failed') return;
    const tried: number[] = [];
    for (const fallback of await fallbackOrder(registry, version)) {
      tried.push(fallback);
      if ((await holder.swapTo(fallback)).outcome !== 'ok') continue;
      log.error('serving.champion_fallback', { champion: version, version: fallback, error: first.error });
      metrics.championFallbacks.inc({ use: 'serving' });
      return;
    }
    log.error('serving.no_champion', { champion: version, tried, error: first.error });
  };

  const plugins: Plugin[] = [];
  let lock: { release(): void } | null = null;
  plugins.push({
    name: 'state-lock',
    async start() { lock = lockStateDir(stateDir); },
    async stop() { lock?.release(); },
  });
  plugins.push(backendPlugin(config, metrics, log));
  plugins.push({
    name: 'store',
    async start() {
      const s = config.ingest.splits;
      store = openStore(layout.store, { splitRatios: { train: 1 - s.validation - s.test, validation: s.validation, test: s.test } });
      const report = recover(stateDir, store);
      const repaired = report.archived.length + report.rejectsCompleted.length + report.reasonsWritten.length + report.orphanReasonsRemoved.length + report.tempFilesRemoved.length;
      if (repaired > 0) {
        log.info('store.recovered', { archived: report.archived.length, rejectsCompleted: report.rejectsCompleted.length, reasonsWritten: report.reasonsWritten.length, orphanReasonsRemoved: report.orphanReasonsRemoved.length, tempFilesRemoved: report.tempFilesRemoved.length });
      }
      // What recovery could not finish stays as it is; the daemon starts anyway.
      for (const s of report.stuck) stuck.report(s.source, s.code, s.message);
      refreshGauges();
    },
    async stop() {
      if (gaugeTimer) clearTimeout(gaugeTimer);
      store.close();
    },
  });
  plugins.push({
    name: 'registry',
    async start() {
      registry = await openRegistry(join(stateDir, 'models'));
      const lost = registry.recovery;
      if (lost !== null) log.error(lost.version !== null ? 'registry.champion_restored' : 'registry.champion_lost', { ...lost });
      // A candidate whose gate never ran (the daemon stopped in between) is closed with the reason.
      for (const v of await registry.list()) {
        if (v.manifest.state === 'candidate') {
          await registry.reject(v.version, 'abandoned: the daemon stopped before the gate decided');
          log.warn('registry.candidate_abandoned', { version: v.version });
        }
      }
      const champion = await registry.current();
      if (champion) reportModel(metrics, 'champion', champion.manifest);
    },
    async stop() {},
  });
  plugins.push({
    name: 'serving',
    async start() {
      const observe = swapObserver(metrics);
      holder = new ModelHolder({
        loader: registryLoader(registry, modality, { sparse: config.server.sparseInference }),
        onSwap: (r) => {
          observe(r);
          if (r.outcome === 'ok') {
            log.info('model.swapped', { version: r.version, previous: r.previousVersion, seconds: Math.round(r.seconds * 1000) / 1000 });
            // Size and quality of what this process serves (the champion's may differ during a rollout).
            registry.get(r.version).then((v) => reportModel(metrics, 'serving', v.manifest), () => undefined);
          }
          else if (r.outcome === 'failed') log.error('model.swap_failed', { version: r.version, serving: r.servingVersion, error: r.error });
        },
        onDispose: (version, error) => (error ? log.warn('model.dispose_failed', { version, error }) : log.debug('model.disposed', { version })),
      });
      prequential = new PrequentialScorer({ holder, store, window, log });
      const champion = await registry.current();
      if (champion) await serveChampion(champion.version);
    },
    async stop() {
      await holder.close();
    },
  });
  let app: ReturnType<typeof buildServer> | null = null;
  plugins.push({
    name: 'http',
    async start() {
      const deps: ServerDeps = {
        holder,
        metrics,
        token,
        tokenHint: `set the ${config.server.tokenEnv} environment variable (or server.tokenFile in the config) and restart`,
        limits: { bodyLimitBytes: config.server.bodyLimitBytes },
        batching: { ...config.server.batching },
        preprocess: preprocessors(config),
        registry: registryOps(registry, metrics, log),
        artifacts: registryArtifacts(registry),
        updates: { requestUpdate: async (reason) => scheduler.request(reason) },
        status: { status: () => status() },
        onError: (err, ctx) => log.error('http.error', { ...ctx, error: err }),
      };
      ({ app, port, url } = await listenHttp(deps, config, log));
    },
    async stop() {
      // Stops accepting connections and waits for the requests in flight.
      await app?.close();
    },
  });
  plugins.push({
    name: 'updates',
    async start() {
      updater = new Updater({
        store, registry, holder, metrics, prequential, log,
        job: { stateDir, model, modality, update, backend: { name: config.backend.name, threads: config.backend.threads }, driftBins: config.metrics.driftBins },
        tolerance: config.gate.tolerance,
        margin: config.gate.margin,
        keep: config.registry.keep,
        startTrainer: options.startTrainer,
        nice: options.trainerNice,
      });
      updater.events.on('finished', () => {
        refreshGauges();
        scheduler.notify();
      });
      scheduler = new UpdateScheduler({
        policy: { ...config.triggers, minValidationSamples: config.gate.minValidationSamples },
        counts,
        hasChampion: () => holder.version !== null,
        run: (request) => updater.run(request),
        log,
      });
      await scheduler.start();
    },
    async stop(reason) {
      const stopping = scheduler.stop();
      await updater.stop(reason);
      await stopping;
    },
  });
  plugins.push({
    name: 'watcher',
    async start() {
      const limits = limitsOf(config);
      const manifests = new ManifestCache();
      const ctx: IngestContext = {
        stateDir,
        store,
        modality,
        maxFileBytes: limits.maxFileBytes,
        process: processorByContent({
          image: (bytes) => processImage(bytes, imageSpec(config, modality === 'image' ? model.inputShape : undefined), limits),
          audio: (bytes) => processAudio(bytes, audioSpec(config), limits),
        }),
        resolveLabel: async (file) => {
          const known = config.ingest.labelPolicy === 'reject' ? store.labels().map((l) => l.label) : [];
          const r = await resolveLabel(file.path, {
            inboxRoot: layout.inbox, knownLabels: known.length > 0 ? known : undefined, policy: config.ingest.labelPolicy, modality: file.modality, manifests,
          });
          if (r.kind === 'class') return { target: { label: r.value } };
          return { target: { transcript: r.value }, sidecars: r.sidecar !== undefined ? [r.sidecar] : [] };
        },
      };
      const ingestor = new Ingestor(ctx, { concurrency: config.ingest.concurrency });
      watcher = new InboxWatcher({
        inbox: layout.inbox,
        polling: config.ingest.polling,
        pollIntervalMs: config.ingest.pollIntervalMs,
        reconcileIntervalMs: config.ingest.reconcileIntervalSec * 1000,
        stableMs: config.ingest.awaitWriteFinishMs,
        log,
        ingest: async (path) => {
          let outcome: IngestOutcome;
          try {
            outcome = await ingestor.ingest(path);
          } catch (err) {
            if (stuck.failure(relative(layout.inbox, path), err)) return { retry: false };
            throw err;
          }
          onIngested(outcome);
          return { retry: outcome.outcome === 'skipped' && outcome.code === 'BONSAI_INGEST_FILE_CHANGED' };
        },
        // A name that is not UTF-8: quarantined by its raw path.
        ingestBadName: async (raw) => {
          try {
            onIngested(await ingestor.ingest(raw));
          } catch (err) {
            if (!stuck.failure(relative(layout.inbox, new TextDecoder().decode(raw)), err)) throw err;
          }
        },
      });
      await watcher.start();
    },
    async stop() {
      await watcher.stop();
    },
  });

  const onIngested = (o: IngestOutcome): void => {
    stuck.outcome(o);
    if (o.outcome === 'skipped') {
      log.debug('ingest.skipped', { source: o.source, code: o.code, message: o.message });
      return;
    }
    metrics.ingestFiles.inc({ modality: o.modality ?? 'unknown', outcome: o.outcome });
    if (o.outcome === 'accepted') {
      log.debug('ingest.accepted', { source: o.source, id: o.id.slice(0, 12), shape: o.shape, recovered: o.recovered });
      if (!o.recovered) prequential.add([o.id]);
    } else if (o.outcome === 'duplicate') {
      log.info('ingest.duplicate', { source: o.source, id: o.id.slice(0, 12), destination: o.destination });
    } else {
      log.warn('ingest.rejected', { source: o.source, code: o.code, message: o.message, destination: o.destination });
    }
    refreshSoon();
    scheduler.notify();
  };

  const lifecycle = new Lifecycle(plugins, log);

  const status = async (): Promise<Record<string, unknown>> => {
    const c = store.db.open ? store.counts() : null;
    const champion = store.db.open ? (await registry.current())?.version ?? null : null;
    return {
      state: lifecycle.state,
      stateDir,
      role: config.role,
      model: { arch: model.arch, inputShape: model.inputShape, modality },
      backend: backendInfo()?.name ?? null,
      champion,
      store: c && { total: c.total, pending: c.pending, bySplit: c.bySplit, byLabel: c.byLabel, duplicates: c.duplicates },
      triggers: scheduler?.status() ?? null,
      update: updater?.current() ?? null,
      lastUpdate: updater?.last() ?? null,
      watcher: watcher?.stats() ?? null,
      prequential: { accuracy: window.accuracy(), window: window.count, scored: prequential?.counts.scored ?? 0 },
    };
  };

  await lifecycle.start();
  let unhook: (() => void) | null = null;
  if (options.signals) unhook = handleSignals(lifecycle, log);
  log.info('daemon.started', { url, stateDir, pid: process.pid, champion: holder.version, arch: model.arch, inputShape: model.inputShape, backend: backendInfo()?.name });
  void lifecycle.stopped.then(() => {
    unhook?.();
    log.info('daemon.stopped', { stateDir });
  });

  return {
    config, url, port, holder, store, registry, metrics, scheduler, updater, watcher, prequential,
    events: updater.events,
    status,
    requestUpdate: (reason) => scheduler.request(reason),
    stop: (reason = 'stop requested') => lifecycle.stop(reason),
    stopped: lifecycle.stopped,
  };
}
