/**
 * The daemon's parts as plugins with an explicit start and stop (fastify's
 * `register`, Avalanche's plugins), started in order and stopped in reverse,
 * under one state machine with one guard:
 *
 * ```
 * created -> starting -> running -> stopping -> stopped
 *               |                      ^
 *               +--(a start fails)-----+   (the parts already started are stopped)
 *               +--(a stop is asked)---+   (the part starting finishes, then all are stopped)
 * ```
 *
 * Shutdown on SIGTERM or SIGINT stops the plugins in reverse order (stop
 * watching, stop or finish the update, drain HTTP, close the store); a second
 * signal exits at once with status 130.
 */
import { BonsaiError } from '../core/errors.ts';
import type { Log } from './logging.ts';

/** One part of the daemon. */
export interface Plugin {
  /** Short name used in logs (`watcher`, `http`, ...). */
  readonly name: string;
  /** Acquires the part's resources; throws to abort the start-up. */
  start(): Promise<void>;
  /** Releases them; called once, in reverse start order, only if `start` succeeded. */
  stop(reason: string): Promise<void>;
}

/** States of the daemon. */
export const LIFECYCLE_STATES = ['created', 'starting', 'running', 'stopping', 'stopped'] as const;
/** One of `LIFECYCLE_STATES`. */
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

const MOVES: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = {
  created: ['starting'],
  starting: ['running', 'stopping'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** The guard: throws `BONSAI_DAEMON_BAD_STATE` unless `from -> to` is allowed. */
export function assertLifecycle(from: LifecycleState, to: LifecycleState): void {
  if (MOVES[from].includes(to)) return;
  throw new BonsaiError('BONSAI_DAEMON_BAD_STATE', `the daemon cannot go from ${from} to ${to}; from ${from} it may go to ${MOVES[from].join(', ') || 'nothing'}`, { from, to });
}

/** Starts plugins in order, stops them in reverse. */
export class Lifecycle {
  private stateNow: LifecycleState = 'created';
  private readonly started: Plugin[] = [];
  private stopping: Promise<void> | null = null;
  /** Why a stop was asked while starting (the start then ends after the part it is starting). */
  private stopAsked: string | null = null;
  private resolveStopped = (): void => undefined;
  /** Resolves once every started plugin has been stopped. */
  readonly stopped: Promise<void> = new Promise((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly plugins: readonly Plugin[], private readonly log: Log) {}

  get state(): LifecycleState {
    return this.stateNow;
  }

  private move(to: LifecycleState): void {
    assertLifecycle(this.stateNow, to);
    this.stateNow = to;
  }

  /**
   * Starts every plugin in order; on a failure stops those started and rethrows. A stop asked
   * meanwhile (a signal during a slow start) lets the part being started finish, stops them all
   * and throws `BONSAI_DAEMON_STOPPED_WHILE_STARTING`.
   */
  async start(): Promise<void> {
    this.move('starting');
    for (const plugin of this.plugins) {
      if (this.stopAsked !== null) break;
      const t0 = performance.now();
      try {
        await plugin.start();
      } catch (err) {
        this.log.error('daemon.start_failed', { plugin: plugin.name, error: err });
        await this.stopStarted(`start of ${plugin.name} failed`);
        throw err;
      }
      this.started.push(plugin);
      this.log.debug('plugin.started', { plugin: plugin.name, ms: Math.round(performance.now() - t0) });
    }
    if (this.stopAsked !== null) {
      const reason = this.stopAsked;
      const started = this.started.map((p) => p.name);
      const next = this.plugins[started.length]?.name ?? null;
      await this.stopStarted(reason);
      throw new BonsaiError('BONSAI_DAEMON_STOPPED_WHILE_STARTING', `the daemon was asked to stop (${reason}) while it started; the parts it had started (${started.join(', ') || 'none'}) are stopped${next === null ? '' : `, ${next} and those after it were not started`}`,
        { reason, started, notStarted: next });
    }
    this.move('running');
  }

  /**
   * Stops the started plugins in reverse order; idempotent (a second call waits for the first).
   * Asked while starting, it waits for the start to end after the part it is starting.
   */
  stop(reason: string): Promise<void> {
    if (this.stateNow === 'created' || (this.stateNow === 'stopped' && this.stopping === null)) {
      this.stateNow = 'stopped';
      this.resolveStopped();
      return Promise.resolve();
    }
    if (this.stateNow === 'starting') {
      if (this.stopAsked === null) {
        this.stopAsked = reason;
        this.log.info('daemon.stop_while_starting', { reason, started: this.started.map((p) => p.name) });
      }
      return this.stopped;
    }
    return this.stopStarted(reason);
  }

  /** Stops the started plugins in reverse order, once. */
  private stopStarted(reason: string): Promise<void> {
    if (this.stopping) return this.stopping;
    this.move('stopping');
    this.stopping = (async () => {
      for (const plugin of [...this.started].reverse()) {
        const t0 = performance.now();
        try {
          await plugin.stop(reason);
          this.log.debug('plugin.stopped', { plugin: plugin.name, ms: Math.round(performance.now() - t0) });
        } catch (err) {
          this.log.error('plugin.stop_failed', { plugin: plugin.name, error: err });
        }
      }
      this.started.length = 0;
      this.move('stopped');
      this.resolveStopped();
    })();
    return this.stopping;
  }
}

/** Options of `handleSignals`. */
export interface SignalOptions {
  /** Signals to handle; default SIGTERM, SIGINT and SIGHUP (which also sets the exit status to 129). */
  signals?: readonly NodeJS.Signals[];
  /** Called on the second signal (default: `process.exit(130)`). */
  exitNow?: (signal: NodeJS.Signals) => void;
}

/**
 * Stops `target` on the first signal; exits at once on the second. Returns a
 * function that removes the handlers.
 */
export function handleSignals(target: { stop(reason: string): Promise<void> }, log: Log, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT', 'SIGHUP'];
  const exitNow = options.exitNow ?? (() => process.exit(130));
  let received = 0;
  const handler = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received > 1) {
      log.warn('daemon.exit_now', { signal, reason: 'second signal during shutdown' });
      exitNow(signal);
      return;
    }
    if (signal === 'SIGHUP') {
      // Operators send SIGHUP to reload, and a closed terminal sends it too. bonsai reads its config
      // only at start, so it stops gracefully and exits 129 (128 + 1), a failure to a supervisor:
      // systemd's Restart=on-failure starts it again with the new config. Unhandled, SIGHUP killed it
      // at once (no graceful stop, locks left) with a status systemd reads as a clean exit, not restarted.
      process.exitCode = 129;
      log.warn('daemon.signal', { signal, action: 'graceful shutdown, then exit status 129 so that a supervisor restarts the daemon (the config is read only at start); send it again to exit at once' });
    } else {
      log.info('daemon.signal', { signal, action: 'graceful shutdown; send it again to exit at once' });
    }
    void target.stop(`signal ${signal}`).catch((err: unknown) => log.error('daemon.stop_failed', { error: err }));
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
