/**
 * `role: server`: a process that only serves. With `trainerUrl` it follows the
 * trainer over HTTP: it polls `GET /v1/models/current` every
 * `ingest.pollIntervalMs`, downloads a new champion into its own
 * `<stateDir>/models/` (daemon/serving/mirror.ts: staged, checked against the
 * manifest's SHA-256, renamed into place) and swaps it in; a failed download
 * or checksum keeps the old model serving (`bonsai_model_swaps_total
 * {outcome="failed"}`, and `bonsai_model_info` shows serving behind champion).
 * Without `trainerUrl` it opens the registry of a trainer (role `all` or
 * `trainer`) read-only, on a shared volume, and follows
 * its champion: it polls `models/CURRENT` every `ingest.pollIntervalMs` and
 * hot-swaps when it names a new version (load, verify checksums, warm up, swap;
 * a version that fails to load is not tried again until CURRENT moves on). It
 * takes no lock, keeps no store and never writes, so any number of servers can
 * follow one trainer. Updates, promotions and rollbacks asked of it over HTTP
 * are forwarded to `trainerUrl` with the same bearer token.
 *
 *   plugins (daemon/plugins/): backend -> registry (read-only) -> serving -> http -> follow CURRENT
 */
import { join, resolve } from 'node:path';
import { tf, backendInfo } from '../core/index.ts';
import { BonsaiError, isErrorCode } from '../core/errors.ts';
import type { Config } from '../config/index.ts';
import type { RegistryListing, RegistryOps, UpdateRequestResult, UpdateTrigger } from './server/index.ts';
import { createMetrics, type BonsaiMetrics } from './metrics/index.ts';
import type { ModelRegistry } from './registry/index.ts';
import type { ModelHolder, ModelLoader, SwapResult } from './serving/index.ts';
import { Lifecycle, handleSignals } from './lifecycle.ts';
import { createLog, type Log } from './logging.ts';
import { warnAboutConfig } from './config-warnings.ts';
import { ModelMirror } from './serving/mirror.ts';
// The plugins one by one, not plugins/index.ts: that one also holds the updates
// plugin, and a serving-only process loads nothing of the trainer.
import { DaemonContext, lifecyclePlugins, type DaemonPlugin } from './plugins/context.ts';
import { backendPlugin } from './plugins/backend.ts';
import { ChampionFollower, followedRegistryPlugin, followPlugin } from './plugins/follow.ts';
import { httpPlugin } from './plugins/http.ts';
import { servingPlugin } from './plugins/serving.ts';
import { packageVersion, readToken, registryOps } from './wiring.ts';

/** Options of `startServing`. */
export interface ServingOptions {
  log?: Log;
  /** Bearer token of mutating routes (also sent to the trainer); default from the config. */
  token?: string;
  version?: string;
  /** Handle SIGTERM/SIGINT; default false. */
  signals?: boolean;
  defaultMetrics?: boolean;
  /** Period of the CURRENT poll in ms; default `ingest.pollIntervalMs`. */
  pollMs?: number;
}

/** A running serving-only process. */
export interface ServingDaemon {
  readonly config: Config;
  readonly url: string;
  readonly port: number;
  readonly holder: ModelHolder;
  readonly registry: ModelRegistry;
  readonly metrics: BonsaiMetrics;
  /** Checks CURRENT now and swaps if it moved (what the poll does). */
  follow(): Promise<void>;
  status(): Promise<Record<string, unknown>>;
  stop(reason?: string): Promise<void>;
  readonly stopped: Promise<void>;
}

/** Calls the trainer's HTTP API with the bearer token; throws `BONSAI_DAEMON_TRAINER_UNREACHABLE` when it cannot answer. */
async function callTrainer(trainerUrl: string, path: string, token: string | undefined, body?: unknown, method = 'POST'): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(new URL(path, trainerUrl), {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (cause) {
    throw new BonsaiError('BONSAI_DAEMON_TRAINER_UNREACHABLE', `cannot reach the trainer at ${trainerUrl}: ${(cause as Error).message}`, { trainerUrl, path }, { cause });
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, json };
}

/** The trainer's error, re-thrown with its code (so the HTTP layer answers the same status). */
function trainerError(trainerUrl: string, path: string, status: number, json: Record<string, unknown>): BonsaiError {
  const e = (json.error ?? {}) as { code?: unknown; message?: string; details?: Record<string, unknown> };
  // A code this version does not know (a trainer of another version) is kept in the details.
  const code = isErrorCode(e.code) ? e.code : 'BONSAI_DAEMON_TRAINER_UNREACHABLE';
  return new BonsaiError(code, `trainer ${trainerUrl} answered ${status} to ${path}: ${e.message ?? JSON.stringify(json)}`,
    { ...e.details, trainerUrl, status, ...(e.code !== undefined && e.code !== code ? { trainerCode: e.code } : {}) });
}

/** Forwards promotions and rollbacks to the trainer; `done(version)` is told the champion the trainer now names. */
function forwardingOps(local: RegistryOps, trainerUrl: string | null, token: string | undefined, done: (version: number) => void, remoteList: boolean): RegistryOps {
  const readOnly = (path: string): BonsaiError => new BonsaiError('BONSAI_DAEMON_SERVER_READ_ONLY', 'this process serves a registry it does not own (role server) and has no trainerUrl to forward to; promote or roll back on the trainer', { path });
  const forward = async (path: string): Promise<Record<string, unknown>> => {
    if (trainerUrl === null) throw readOnly(path);
    const { status, json } = await callTrainer(trainerUrl, path, token);
    if (status !== 200) throw trainerError(trainerUrl, path, status, json);
    return (json.registry as Record<string, unknown> | undefined) ?? json;
  };
  return {
    assertChangeable: () => {
      if (trainerUrl === null) throw readOnly('/v1/models');
    },
    // A server that follows over HTTP caches only what it served: the trainer's registry has the listing.
    list: async () => {
      if (!remoteList || trainerUrl === null) return local.list();
      const { status, json } = await callTrainer(trainerUrl, '/v1/models', token, undefined, 'GET');
      if (status !== 200) throw trainerError(trainerUrl, '/v1/models', status, json);
      return { current: json.current as number | null, previous: json.previous as number | null, versions: json.versions as RegistryListing['versions'] };
    },
    promote: async (version) => {
      const answer = await forward(`/v1/models/${version}/promote`);
      done(version);
      return answer;
    },
    rollback: async () => {
      const answer = await forward('/v1/rollback');
      done(Number(answer.version));
      return { ...answer, version: Number(answer.version) };
    },
  };
}

/** Downloads and verifies a version into the local cache before `load` reads it from there. */
function mirroredLoader(mirror: ModelMirror, load: ModelLoader): ModelLoader {
  return (version) => mirror.use(version, () => load(version));
}

/** The update route: forwarded to the trainer, whose refusal (409) is passed back as one. */
function forwardedUpdates(trainerUrl: string | null, token: string | undefined): UpdateTrigger {
  return {
    requestUpdate: async (reason): Promise<UpdateRequestResult> => {
      if (trainerUrl === null) return { accepted: false, state: 'no-trainer', message: 'this process only serves (role server) and no trainerUrl is configured' };
      const { status, json } = await callTrainer(trainerUrl, '/v1/updates', token, { reason });
      if (status === 202) return json as unknown as UpdateRequestResult;
      const e = (json.error ?? {}) as { message?: string; details?: { state?: string } };
      if (status === 409) return { accepted: false, state: e.details?.state ?? 'refused', message: e.message };
      throw trainerError(trainerUrl, '/v1/updates', status, json);
    },
  };
}

/**
 * Records the served version in the cache (served again by a restart while the trainer is away)
 * and removes cached versions other than it and its predecessor (a likely rollback target).
 */
function cachePruner(mirror: ModelMirror): (result: SwapResult, ctx: DaemonContext) => void {
  return (r, { log }) => {
    mirror.markServed(r.version).catch((error: unknown) => log.warn('model.cache_mark_failed', { version: r.version, error }));
    mirror.prune([r.version, r.previousVersion]).then(
      (removed) => { if (removed.length > 0) log.info('model.cache_pruned', { removed }); },
      (error: unknown) => log.warn('model.cache_prune_failed', { error }));
  };
}

/** The plugins of a serving-only process, in start order (see the file comment). */
function servingPlugins(config: Config, follower: ChampionFollower, mirror: ModelMirror | null, pollMs: number, status: () => Promise<Record<string, unknown>>): DaemonPlugin[] {
  return [
    backendPlugin(),
    followedRegistryPlugin(mirror),
    servingPlugin({
      serveFirst: () => follower.follow(),
      wrapLoader: mirror ? (load) => mirroredLoader(mirror, load) : undefined,
      onSwapped: mirror ? cachePruner(mirror) : undefined,
    }),
    httpPlugin((ctx) => ({
      registry: forwardingOps(registryOps(ctx.get('registry'), ctx.metrics, ctx.log), config.trainerUrl, ctx.token, (version) => follower.forwarded(version), mirror !== null),
      updates: forwardedUpdates(config.trainerUrl, ctx.token),
      status: { status },
    })),
    followPlugin(follower, pollMs),
  ];
}

/** Starts a serving-only process (`role: server`); see the file comment. */
export async function startServing(config: Config, options: ServingOptions = {}): Promise<ServingDaemon> {
  const log = options.log ?? createLog({ level: config.log.level, format: config.log.format });
  warnAboutConfig(config, log);
  const stateDir = resolve(config.stateDir);
  const token = options.token ?? readToken(config);
  const metrics = createMetrics({ version: options.version ?? packageVersion(), tfjsVersion: tf.version_core, tfMemory: () => tf.memory(), defaultMetrics: options.defaultMetrics });
  const ctx = new DaemonContext({ config, log, metrics, stateDir, token });
  const mirror = config.trainerUrl === null ? null : new ModelMirror(join(stateDir, 'models'), config.trainerUrl, {
    token, onReplaced: (replaced) => log.warn('model.cache_replaced', { ...replaced, trainerUrl: config.trainerUrl }),
  });
  const follower = new ChampionFollower(ctx, mirror);
  const status = async (): Promise<Record<string, unknown>> => ({
    state: lifecycle.state, role: 'server', stateDir, trainerUrl: config.trainerUrl, backend: backendInfo()?.name ?? null,
    champion: mirror ? follower.lastSeen : await ctx.get('registry').current().then((c) => c?.version ?? null, () => null), failedVersion: follower.failedVersion,
    followProblem: follower.problem,
  });
  const plugins = servingPlugins(config, follower, mirror, options.pollMs ?? config.ingest.pollIntervalMs, status);
  const lifecycle = new Lifecycle(lifecyclePlugins(ctx, plugins), log);
  // Signals are handled from the start: one during a slow start (a store to open, a model to
  // warm up) stops the parts started so far, as it would a running daemon.
  const unhook = options.signals ? handleSignals(lifecycle, log) : null;
  try {
    await lifecycle.start();
  } catch (err) {
    unhook?.();
    throw err;
  }
  const holder = ctx.get('holder');
  const { url, port } = ctx.get('http');
  log.info('daemon.started', { url, stateDir, pid: process.pid, role: 'server', champion: holder.version, backend: backendInfo()?.name });
  void lifecycle.stopped.then(() => {
    unhook?.();
    log.info('daemon.stopped', { stateDir });
  });
  return {
    config, url, port, holder, metrics, status,
    registry: ctx.get('registry'),
    follow: () => follower.follow(),
    stop: (reason = 'stop requested') => lifecycle.stop(reason),
    stopped: lifecycle.stopped,
  };
}
