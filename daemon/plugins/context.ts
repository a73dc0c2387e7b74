/**
 * One context for the daemon's plugins. It holds what every part reads (the
 * config, the log, the metrics, the state directory, the API token) and the
 * parts started so far: each plugin adds its own as it starts (the store, the
 * registry, the holder, ...) and reads those of the plugins before it.
 *
 * A plugin is a name and a `start(ctx)` that returns its stop;
 * `lifecyclePlugins` turns a list of them into the `Plugin`s of a `Lifecycle`,
 * which starts them in order and stops them in reverse, logging a stop that
 * fails (daemon/lifecycle.ts).
 */
import { BonsaiError } from '../../core/errors.ts';
import type { Config } from '../../config/index.ts';
import type { SampleStore } from '../../pipelines/store/index.ts';
import type { BonsaiMetrics } from '../metrics/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { ModelHolder } from '../serving/index.ts';
import type { Plugin } from '../lifecycle.ts';
import type { Log } from '../logging.ts';
import type { PrequentialScorer } from '../prequential-scorer.ts';
import type { Updater } from '../trainer/index.ts';
import type { UpdateScheduler } from '../triggers/index.ts';
import type { InboxWatcher } from '../watch/index.ts';
import type { Listening } from '../wiring.ts';
import type { StoreGauges } from './store.ts';

/** What every plugin reads; fixed before the first one starts. */
export interface DaemonServices {
  readonly config: Config;
  readonly log: Log;
  readonly metrics: BonsaiMetrics;
  /** The state directory, resolved. */
  readonly stateDir: string;
  /** Bearer token of mutating routes (undefined: those routes are disabled). */
  readonly token: string | undefined;
}

/** The parts, each added by the plugin named in its comment. */
export interface DaemonParts {
  /** `store`: the sample store, open for writing. */
  store: SampleStore;
  /** `store`: the store's gauges, refreshed after ingestion and updates. */
  gauges: StoreGauges;
  /** `registry`: the model registry (read-only in a serving-only process). */
  registry: ModelRegistry;
  /** `serving`: the live model and its hot swap. */
  holder: ModelHolder;
  /** `prequential`: scores arrivals with the live model. */
  prequential: PrequentialScorer;
  /** `http`: the listening server, its port and URL. */
  http: Listening;
  /** `updates`: runs one update at a time. */
  updater: Updater;
  /** `updates`: decides when an update starts. */
  scheduler: UpdateScheduler;
  /** `watcher`: hands the inbox's complete files to ingestion. */
  watcher: InboxWatcher;
}

/** The name of one part. */
export type PartName = keyof DaemonParts;

/** The services and the parts started so far. */
export class DaemonContext implements DaemonServices {
  readonly config: Config;
  readonly log: Log;
  readonly metrics: BonsaiMetrics;
  readonly stateDir: string;
  readonly token: string | undefined;
  private readonly parts: Partial<DaemonParts> = {};

  constructor(services: DaemonServices) {
    ({ config: this.config, log: this.log, metrics: this.metrics, stateDir: this.stateDir, token: this.token } = services);
  }

  /** Adds a part; each is added once, by its plugin. */
  add<K extends PartName>(name: K, part: DaemonParts[K]): void {
    if (this.parts[name] !== undefined) throw new BonsaiError('BONSAI_DAEMON_BAD_STATE', `the daemon's ${name} was already added`, { part: name });
    this.parts[name] = part;
  }

  /** A part that has started; throws `BONSAI_DAEMON_BAD_STATE` when its plugin has not (yet) started. */
  get<K extends PartName>(name: K): DaemonParts[K] {
    const part = this.parts[name];
    if (part === undefined) {
      throw new BonsaiError('BONSAI_DAEMON_BAD_STATE', `the daemon's ${name} has not started: a plugin reads only the parts of the plugins started before it, and requests reach the updates only once they run`, { part: name });
    }
    return part;
  }

  /** A part if its plugin has started (for status answers during start-up and shutdown). */
  find<K extends PartName>(name: K): DaemonParts[K] | undefined {
    return this.parts[name];
  }
}

/** What a plugin's start returns: how to release its part. */
export type Stop = (reason: string) => Promise<void>;

/** One part of the daemon: `start` adds it to the context and returns its stop. */
export interface DaemonPlugin {
  /** Short name used in logs (`store`, `http`, ...). */
  readonly name: string;
  /** Starts the part on the parts before it; throws to abort the start-up. */
  start(ctx: DaemonContext): Promise<Stop>;
}

/** A stop with nothing to release. */
export const nothingToStop: Stop = async () => {};

/** The plugins as a `Lifecycle`'s steps over `ctx`: each stop is the one its start returned. */
export function lifecyclePlugins(ctx: DaemonContext, plugins: readonly DaemonPlugin[]): Plugin[] {
  return plugins.map((plugin) => {
    let stop: Stop = nothingToStop;
    return {
      name: plugin.name,
      async start() { stop = await plugin.start(ctx); },
      stop: (reason) => stop(reason),
    };
  });
}
