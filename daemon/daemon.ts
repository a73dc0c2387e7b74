/**
 * `startDaemon(config)`: bonsai as a service. The parts are plugins
 * (daemon/plugins/) over one context, started in this order and stopped in
 * reverse (daemon/lifecycle.ts):
 *
 *   state lock -> compute backend -> sample store (+ ingest recovery)
 *   -> model registry (+ its recovery) -> serving (load the champion)
 *   -> prequential scoring -> HTTP -> updates (scheduler + trainer) -> inbox watcher
 *
 * so shutdown stops watching first, then stops or finishes the update, drains
 * HTTP, frees the models and closes the store. Every start-up step is
 * idempotent crash recovery, so a restart after any crash finds a consistent
 * state: committed samples are in the store once (content-hash ids), files are
 * in the inbox (to ingest), archive/ or quarantine/, models are whole versions
 * or nothing, and CURRENT names the champion.
 */
import type { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { tf, backendInfo, type UpdateConfig } from '../core/index.ts';
import { BonsaiError } from '../core/errors.ts';
import type { Config } from '../config/index.ts';
import type { SampleStore } from '../pipelines/store/index.ts';
import { createMetrics, PrequentialWindow, type BonsaiMetrics } from './metrics/index.ts';
import type { ModelRegistry } from './registry/index.ts';
import type { ModelHolder } from './serving/index.ts';
import { Lifecycle, handleSignals, type LifecycleState } from './lifecycle.ts';
import { createLog, type Log } from './logging.ts';
import { warnAboutConfig } from './config-warnings.ts';
import { StuckEntries } from './stuck.ts';
import { StorageHealth } from './storage.ts';
import type { PrequentialScorer } from './prequential-scorer.ts';
import type { Updater, TrainerHandle, TrainerOptions, UpdaterEvents, ModelChoice } from './trainer/index.ts';
import type { UpdateScheduler, RequestAnswer } from './triggers/index.ts';
import type { InboxWatcher } from './watch/index.ts';
import {
  backendPlugin, DaemonContext, httpPlugin, lifecyclePlugins, prequentialPlugin, registryPlugin, serveChampion, servingPlugin, stateLockPlugin,
  storePlugin, updatesPlugin, watcherPlugin, type DaemonPlugin,
} from './plugins/index.ts';
import { modelChoice, packageVersion, readToken, registryArtifacts, registryOps, updateConfig } from './wiring.ts';

export { modelChoice, readToken, updateConfig } from './wiring.ts';

/** Programmatic options of `startDaemon` beyond the config (tests, benchmarks, the demo). */
export interface DaemonOptions {
  /** Where events go; default a winston logger per `config.log`. */
  log?: Log;
  /** Overrides of the network: e.g. `{ arch: 'mlp', options: { hidden: [32] } }` (config `model.name` otherwise). */
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

/** What the daemon's plugins share beyond the context: the first model's network, the prequential window, the stuck entries. */
interface DaemonSetup {
  model: ModelChoice;
  window: PrequentialWindow;
  stuck: StuckEntries;
  storage: StorageHealth;
}

/** The plugins of a daemon, in start order (see the file comment). */
function daemonPlugins(config: Config, options: DaemonOptions, setup: DaemonSetup, status: () => Promise<Record<string, unknown>>): DaemonPlugin[] {
  const { model, window, stuck, storage } = setup;
  return [
    stateLockPlugin(),
    backendPlugin(),
    storePlugin(stuck),
    registryPlugin(),
    servingPlugin({ serveFirst: serveChampion }),
    prequentialPlugin(window),
    httpPlugin((ctx) => ({
      registry: registryOps(ctx.get('registry'), ctx.metrics, ctx.log),
      artifacts: registryArtifacts(ctx.get('registry')),
      // The updates start after HTTP (and stop before it drains): they are looked up per request.
      updates: { requestUpdate: async (reason) => ctx.get('scheduler').request(reason) },
      status: { status },
    })),
    updatesPlugin({ model, update: updateConfig(config, options.update, model.arch), startTrainer: options.startTrainer, nice: options.trainerNice, storage }),
    watcherPlugin({ stuck, storage, inputShape: model.inputShape }),
  ];
}

/** What `/v1/status` answers: the parts started so far, so it answers during start-up and shutdown too. */
async function daemonStatus(ctx: DaemonContext, state: LifecycleState, setup: DaemonSetup): Promise<Record<string, unknown>> {
  const { config, stateDir } = ctx;
  const { model, window } = setup;
  const store = ctx.find('store');
  const c = store?.isOpen ? store.counts() : null;
  const champion = c !== null ? (await ctx.find('registry')?.current())?.version ?? null : null;
  const updater = ctx.find('updater');
  return {
    state,
    stateDir,
    role: config.role,
    model: { arch: model.arch, inputShape: model.inputShape, modality: config.model.modality },
    backend: backendInfo()?.name ?? null,
    champion,
    store: c && { total: c.total, pending: c.pending, bySplit: c.bySplit, byLabel: c.byLabel, duplicates: c.duplicates, relabels: c.relabels },
    triggers: ctx.find('scheduler')?.status() ?? null,
    update: updater?.current() ?? null,
    lastUpdate: updater?.last() ?? null,
    watcher: ctx.find('watcher')?.stats() ?? null,
    storage: setup.storage.status(),
    prequential: { accuracy: window.accuracy(), window: window.count, scored: ctx.find('prequential')?.counts.scored ?? 0 },
  };
}

/** Starts the daemon; resolves once it serves (or throws, with every started part stopped again). */
export async function startDaemon(config: Config, options: DaemonOptions = {}): Promise<Daemon> {
  if (config.role === 'server') {
    throw new BonsaiError('BONSAI_DAEMON_WRONG_ROLE', 'startDaemon runs the roles all and trainer; role server (serve a trainer\'s registry) runs with startServing (daemon/serving-only.ts), as bonsai start does', { role: config.role });
  }
  const log = options.log ?? createLog({ level: config.log.level, format: config.log.format });
  warnAboutConfig(config, log);
  const stateDir = resolve(config.stateDir);
  const metrics = createMetrics({ version: options.version ?? packageVersion(), tfjsVersion: tf.version_core, tfMemory: () => tf.memory(), defaultMetrics: options.defaultMetrics });
  const setup: DaemonSetup = {
    model: modelChoice(config, options.model),
    window: new PrequentialWindow(config.metrics.prequentialWindow),
    stuck: new StuckEntries(log, metrics.ingestStuck),
    storage: new StorageHealth({ log, stateDir, full: metrics.storageFull, errors: metrics.storageFullErrors }),
  };
  metrics.sources.prequentialAccuracy = () => setup.window.accuracy();
  const ctx = new DaemonContext({ config, log, metrics, stateDir, token: options.token ?? readToken(config) });
  const status = (): Promise<Record<string, unknown>> => daemonStatus(ctx, lifecycle.state, setup);
  const lifecycle = new Lifecycle(lifecyclePlugins(ctx, daemonPlugins(config, options, setup, status)), log);

  // Signals are handled from the start: one during a slow start (a store to open, a model to
  // warm up) stops the parts started so far, as it would a running daemon.
  const unhook = options.signals ? handleSignals(lifecycle, log) : null;
  try {
    await lifecycle.start();
  } catch (err) {
    unhook?.();
    throw err;
  }
  const { model } = setup;
  const { url, port } = ctx.get('http');
  const [holder, updater, scheduler] = [ctx.get('holder'), ctx.get('updater'), ctx.get('scheduler')];
  log.info('daemon.started', { url, stateDir, pid: process.pid, champion: holder.version, arch: model.arch, inputShape: model.inputShape, backend: backendInfo()?.name });
  void lifecycle.stopped.then(() => {
    unhook?.();
    log.info('daemon.stopped', { stateDir });
  });

  return {
    config, url, port, holder, updater, scheduler, metrics,
    store: ctx.get('store'),
    registry: ctx.get('registry'),
    watcher: ctx.get('watcher'),
    prequential: ctx.get('prequential'),
    events: updater.events,
    status,
    requestUpdate: (reason) => scheduler.request(reason),
    stop: (reason = 'stop requested') => lifecycle.stop(reason),
    stopped: lifecycle.stopped,
  };
}
