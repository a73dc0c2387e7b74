/**
 * `role: server`: a process that only serves. With `trainerUrl` it follows the
 * trainer over HTTP: it polls `GET /v1/models/current` every
 * `ingest.pollIntervalMs`, downloads a new champion into its own
 * `<stateDir>/models/` (daemon/mirror.ts: staged, checked against the
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
 *   plugins: backend -> registry (read-only) -> serving -> http -> follow CURRENT
 */
import { join, resolve } from 'node:path';
import * as tf from '../core/tf.ts';
import { backendInfo } from '../core/backend.ts';
import { BonsaiError } from '../core/errors.ts';
import type { Config } from '../config/index.ts';
import { buildServer, type RegistryListing, type RegistryOps, type ServerDeps, type UpdateRequestResult } from './server/index.ts';
import { createMetrics, swapObserver, type BonsaiMetrics } from './metrics/index.ts';
import { openRegistry, type ModelRegistry } from './registry/index.ts';
import { ModelHolder, type ModelLoader } from './serving/index.ts';
import { Lifecycle, handleSignals, type Plugin } from './lifecycle.ts';
import { createLog, type Log } from './logging.ts';
import { registryLoader } from './loader.ts';
import { ModelMirror } from './mirror.ts';
import { reportModel } from './trainer/index.ts';
import { backendPlugin, listenHttp, packageVersion, preprocessors, readToken, registryOps } from './wiring.ts';

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
  const e = (json.error ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
  return new BonsaiError(e.code ?? 'BONSAI_DAEMON_TRAINER_UNREACHABLE', `trainer ${trainerUrl} answered ${status} to ${path}: ${e.message ?? JSON.stringify(json)}`, { ...e.details, trainerUrl, status });
}

/** Forwards promotions and rollbacks to the trainer; `done(version)` is told the champion the trainer now names. */
function forwardingOps(local: RegistryOps, trainerUrl: string | null, token: string | undefined, done: (version: number) => void, remoteList: boolean): RegistryOps {
  const forward = async (path: string): Promise<Record<string, unknown>> => {
    if (trainerUrl === null) {
      throw new BonsaiError('BONSAI_DAEMON_SERVER_READ_ONLY', 'this process serves a registry it does not own (role server) and has no trainerUrl to forward to; promote or roll back on the trainer', { path });
    }
    const { status, json } = await callTrainer(trainerUrl, path, token);
    if (status !== 200) throw trainerError(trainerUrl, path, status, json);
    return (json.registry as Record<string, unknown> | undefined) ?? json;
  };
  return {
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
  return async (version) => {
    await mirror.ensure(version);
    return load(version);
  };
}

/** Starts a serving-only process (`role: server`); see the file comment. */
export async function startServing(config: Config, options: ServingOptions = {}): Promise<ServingDaemon> {
  const log = options.log ?? createLog({ level: config.log.level, format: config.log.format });
  const stateDir = resolve(config.stateDir);
  const token = options.token ?? readToken(config);
  const pollMs = options.pollMs ?? config.ingest.pollIntervalMs;
  const metrics = createMetrics({ version: options.version ?? packageVersion(), tfjsVersion: tf.version_core, tfMemory: () => tf.memory(), defaultMetrics: options.defaultMetrics });
  let registry!: ModelRegistry;
  let holder!: ModelHolder;
  let app: ReturnType<typeof buildServer> | null = null;
  let url = '';
  let port = 0;
  let timer: NodeJS.Timeout | null = null;
  let failedVersion: number | null = null;
  let lastProblem: string | null = null;
  let following: Promise<void> | null = null;
  const mirror = config.trainerUrl === null ? null : new ModelMirror(join(stateDir, 'models'), config.trainerUrl, { token });

  // Edge-triggered: act when CURRENT changes, not whenever it differs from what is served, so that an
  // operator's swap on this server (forwarded to the trainer) is never undone by a poll that read CURRENT
  // just before the trainer wrote it; a forwarded change moves `lastSeen` itself, and a poll that overlapped
  // it (another generation) is discarded.
  let lastSeen: number | null = null;
  let generation = 0;
  const forwarded = (version: number): void => {
    generation += 1;
    lastSeen = version;
  };
  const followNow = async (): Promise<void> => {
    const mine = generation;
    let champion;
    try {
      champion = mirror ? await mirror.current() : await registry.current();
      if (mine !== generation) return;
      lastProblem = null;
    } catch (err) {
      const code = err instanceof BonsaiError ? err.code : 'unknown';
      if (code !== lastProblem) log.warn(mirror ? 'follow.trainer_unreachable' : 'follow.registry_unreadable', { dir: registry.dir, trainerUrl: config.trainerUrl, error: err });
      lastProblem = code;
      return;
    }
    if (champion === null || champion.version === lastSeen) return;
    lastSeen = champion.version;
    reportModel(metrics, 'champion', champion.manifest);
    const result = await holder.swapTo(champion.version);
    failedVersion = result.outcome === 'failed' ? champion.version : null;
    // A download that could not complete is tried again at the next poll; a checksum or load failure waits for the next champion.
    const cause = result.error?.details.causeCode;
    if (result.outcome === 'failed' && mine === generation && (cause === 'BONSAI_DAEMON_TRAINER_UNREACHABLE' || cause === 'BONSAI_DAEMON_DOWNLOAD_FAILED')) lastSeen = null;
  };
  const follow = (): Promise<void> => {
    following ??= followNow().finally(() => { following = null; });
    return following;
  };

  const plugins: Plugin[] = [
    backendPlugin(config, metrics, log),
    {
      name: 'registry',
      async start() {
        if (mirror) await mirror.open();
        registry = await openRegistry(join(stateDir, 'models'), { readOnly: true });
      },
      async stop() {},
    },
    {
      name: 'serving',
      async start() {
        const observe = swapObserver(metrics);
        holder = new ModelHolder({
          loader: mirror ? mirroredLoader(mirror, registryLoader(registry, config.model.modality, { sparse: config.server.sparseInference })) : registryLoader(registry, config.model.modality, { sparse: config.server.sparseInference }),
          onSwap: (r) => {
            observe(r);
            if (r.outcome === 'ok') {
            log.info('model.swapped', { version: r.version, previous: r.previousVersion, seconds: Math.round(r.seconds * 1000) / 1000 });
            // Size and quality of what this process serves (the champion's may differ during a rollout).
            registry.get(r.version).then((v) => reportModel(metrics, 'serving', v.manifest), () => undefined);
            // The cache keeps what is served and its predecessor (a likely rollback target).
            mirror?.prune([r.version, r.previousVersion]).then(
              (removed) => { if (removed.length > 0) log.info('model.cache_pruned', { removed }); },
              (error: unknown) => log.warn('model.cache_prune_failed', { error }));
          }
            else if (r.outcome === 'failed') log.error('model.swap_failed', { version: r.version, serving: r.servingVersion, error: r.error });
          },
        });
        await follow();
      },
      async stop() { await holder.close(); },
    },
    {
      name: 'http',
      async start() {
        const deps: ServerDeps = {
          holder, metrics, token,
          tokenHint: `set the ${config.server.tokenEnv} environment variable (or server.tokenFile in the config) and restart`,
          limits: { bodyLimitBytes: config.server.bodyLimitBytes },
          batching: { ...config.server.batching },
          preprocess: preprocessors(config),
          registry: forwardingOps(registryOps(registry, metrics, log), config.trainerUrl, token, forwarded, mirror !== null),
          updates: {
            requestUpdate: async (reason): Promise<UpdateRequestResult> => {
              if (config.trainerUrl === null) return { accepted: false, state: 'no-trainer', message: 'this process only serves (role server) and no trainerUrl is configured' };
              const { status, json } = await callTrainer(config.trainerUrl, '/v1/updates', token, { reason });
              if (status === 202) return json as unknown as UpdateRequestResult;
              const e = (json.error ?? {}) as { message?: string; details?: { state?: string } };
              if (status === 409) return { accepted: false, state: e.details?.state ?? 'refused', message: e.message };
              throw trainerError(config.trainerUrl, '/v1/updates', status, json);
            },
          },
          status: { status: () => status() },
          onError: (err, ctx) => log.error('http.error', { ...ctx, error: err }),
        };
        ({ app, port, url } = await listenHttp(deps, config, log));
      },
      async stop() { await app?.close(); },
    },
    {
      name: 'follow',
      async start() {
        timer = setInterval(() => void follow(), pollMs);
        timer.unref();
        log.info('follow.started', { registry: registry.dir, pollMs, trainerUrl: config.trainerUrl });
      },
      async stop() {
        if (timer) clearInterval(timer);
        await following;
      },
    },
  ];
  const lifecycle = new Lifecycle(plugins, log);
  const status = async (): Promise<Record<string, unknown>> => ({
    state: lifecycle.state, role: 'server', stateDir, trainerUrl: config.trainerUrl, backend: backendInfo()?.name ?? null,
    champion: mirror ? lastSeen : await registry.current().then((c) => c?.version ?? null, () => null), failedVersion,
  });
  await lifecycle.start();
  let unhook: (() => void) | null = null;
  if (options.signals) unhook = handleSignals(lifecycle, log);
  log.info('daemon.started', { url, stateDir, pid: process.pid, role: 'server', champion: holder.version, backend: backendInfo()?.name });
  void lifecycle.stopped.then(() => {
    unhook?.();
    log.info('daemon.stopped', { stateDir });
  });
  return {
    config, url, port, holder, registry, metrics, follow, status,
    stop: (reason = 'stop requested') => lifecycle.stop(reason),
    stopped: lifecycle.stopped,
  };
}
