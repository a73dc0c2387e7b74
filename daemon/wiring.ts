/**
 * The pieces `startDaemon` and `startServing` share: config -> pipeline specs,
 * network and grow-and-prune settings, the API token, the registry's view for
 * the HTTP admin routes, and the HTTP dependencies of model input.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BonsaiError } from '../core/errors.ts';
import {
  type OptimizerArgs, DEFAULT_LEARNING_RATES, PRUNE_FRACTION_MIN_SHARE, paperUpdateConfig, pruneLearningRateOf, type UpdateConfig, builtinModel, modelInfo, type ModelOptions,
} from '../core/index.ts';
import type { Config } from '../config/index.ts';
import { featureWidth, longestFrames, processAudio } from '../pipelines/audio/index.ts';
import { processImage } from '../pipelines/image/index.ts';
import type { AudioSpec, ImageSpec, IngestLimits, Modality, Preprocessing } from '../pipelines/types.ts';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer, type ArtifactSource, type Preprocessors, type RegistryListing, type RegistryOps, type ServerDeps } from './server/index.ts';
import { reportModel, type BonsaiMetrics } from './metrics/index.ts';
import { canTransition, championStack, type ModelRegistry } from './registry/index.ts';
import type { ModelInput } from './serving/index.ts';
import type { Log } from './logging.ts';
import type { ModelChoice } from './trainer/index.ts';
import { readsModality, speechModels, taskKindOf } from './speech.ts';

/** bonsai's version from package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * The bearer token: the env variable named by `server.tokenEnv`, else the file `server.tokenFile`.
 * Surrounding whitespace (a file's final newline) is dropped.
 */
export function readToken(config: Config, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[config.server.tokenEnv];
  if (fromEnv) return presentable(fromEnv.trim(), `environment variable ${config.server.tokenEnv}`);
  if (config.server.tokenFile === null) return undefined;
  let text: string;
  try {
    text = readFileSync(config.server.tokenFile, 'utf8').trim();
  } catch (cause) {
    throw new BonsaiError('BONSAI_DAEMON_TOKEN_UNREADABLE', `cannot read the API token file ${config.server.tokenFile}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      { file: config.server.tokenFile }, { cause });
  }
  return text ? presentable(text, `file ${config.server.tokenFile}`) : undefined;
}

/**
 * Refuses a token that no request could present: `Authorization: Bearer <token>` ends at
 * whitespace (daemon/auth.ts), so every mutating request would be refused. The message says
 * where the whitespace is, never the token (a secret).
 */
function presentable(token: string, source: string): string {
  const at = token.search(/\s/);
  if (at >= 0) {
    throw new BonsaiError('BONSAI_DAEMON_TOKEN_INVALID', `the API token from ${source} has whitespace at character ${at + 1} of ${token.length}; `
      + 'a bearer token ends at whitespace, so no request could present it: use a token without spaces', { source, position: at + 1, length: token.length });
  }
  return token;
}

/** The image spec of the config, sized for `shape` ([h, w, c]) when given. */
export function imageSpec(config: Config, shape?: readonly number[]): ImageSpec {
  const i = config.model.image;
  const [height, width, channels] = shape && shape.length === 3 ? shape : [i.height, i.width, i.channels];
  return { height, width, channels: channels === 3 ? 3 : 1, resize: i.resize, range: [i.range[0], i.range[1]] };
}

/** The audio spec of the config. */
export function audioSpec(config: Config): AudioSpec {
  return { ...config.model.audio };
}

/** How the config decodes samples, as a manifest keeps it (`Preprocessing`). */
export function preprocessingOf(config: Config): Preprocessing {
  const { resize, range } = imageSpec(config);
  return { image: { resize, range }, audio: audioSpec(config) };
}

/**
 * The fields in which a model's preprocessing differs from the config's (empty when the same, or
 * when the model's manifest does not say): a served version decodes by its own.
 */
export function preprocessingDifferences(model: Preprocessing | undefined, config: Config, modality: Modality): string[] {
  if (model === undefined) return [];
  const ours = preprocessingOf(config);
  // Only the settings of the model's own input: an image model's audio settings decode nothing.
  if (modality === 'image') return (['resize', 'range'] as const).filter((k) => JSON.stringify(model.image[k]) !== JSON.stringify(ours.image[k])).map((k) => `model.image.${k}`);
  return (Object.keys(ours.audio) as (keyof AudioSpec)[]).filter((k) => JSON.stringify(model.audio[k]) !== JSON.stringify(ours.audio[k])).map((k) => `model.audio.${k}`);
}

/** The ingest limits of the config. */
export function limitsOf(config: Config): IngestLimits {
  return { ...config.ingest.limits };
}

/**
 * Config `model.options` as `ModelSpec.options`, each through its rule (core/models/options.ts),
 * so a list stays a list and a list written as text (`"8,8,8"`) becomes one; undefined when
 * there are none.
 */
export function modelOptionsOf(config: Config): ModelOptions | undefined {
  const options = config.model.options;
  if (options === null || Object.keys(options).length === 0) return undefined;
  const rules = builtinModel(config.model.name)?.options ?? {};
  return Object.fromEntries(Object.entries(options).map(([key, value]) => [key, Object.hasOwn(rules, key) ? rules[key].schema.parse(value) : value]));
}

/**
 * The network the daemon trains: config `model`, with programmatic overrides.
 * Classification models take samples of one shape: `model.inputShape`, or the
 * image size for images (recordings have no fixed size, so audio needs it set).
 * Speech models (ds2) take recordings of any length: their input shape is one
 * MFCC frame, `[featureWidth(model.audio)]`. The options are `model.options`
 * (of `model.name`; none for another overriding architecture), unless the
 * override sets them. They shape the first model only: later versions grow
 * from the champion, whose spec is saved with it.
 */
export function modelChoice(config: Config, override: Partial<ModelChoice> = {}): ModelChoice {
  const arch = override.arch ?? config.model.name;
  const options = override.options ?? (arch === config.model.name ? modelOptionsOf(config) : undefined);
  let inputShape = override.inputShape ?? (config.model.inputShape ? [...config.model.inputShape] : null);
  if (taskKindOf(arch) === 'speech') {
    if (!readsModality(arch, config.model.modality)) {
      throw new BonsaiError('BONSAI_DAEMON_MODEL_MODALITY', `model ${arch} is a speech model and reads recordings; set model.modality to audio (it is ${config.model.modality})`,
        { arch, modality: config.model.modality });
    }
    const width = featureWidth(audioSpec(config));
    if (inputShape !== null && !(inputShape.length === 1 && inputShape[0] === width)) {
      throw new BonsaiError('BONSAI_DAEMON_INPUT_SHAPE', `model.inputShape of the speech model ${arch} is one MFCC frame, [${width}] with model.audio (coefficients ${config.model.audio.coefficients}${config.model.audio.deltas ? ' x 3 with deltas' : ''}); got [${inputShape.join(', ')}]: leave it null (recordings have any number of frames)`,
        { arch, expected: [width], actual: inputShape });
    }
    return { arch, inputShape: [width], options };
  }
  if (inputShape === null) {
    if (config.model.modality !== 'image') {
      throw new BonsaiError('BONSAI_DAEMON_INPUT_SHAPE', `model.inputShape must be set for the audio model ${arch}: it classifies samples of one fixed shape and recordings have no fixed size; set model.inputShape, or use a speech model (model.name ${speechModels().join(' or ')}), which reads recordings of any length`,
        { arch, modality: config.model.modality, speechModels: speechModels() });
    }
    const i = config.model.image;
    inputShape = [i.height, i.width, i.channels];
  }
  return { arch, inputShape, options };
}

/**
 * The optimizer of config `algorithm` for architecture `arch`: `algorithm.optimizer`,
 * else the one the model registered (core/models/options.ts: Adam for ds2, SGD with momentum
 * for the others; SGD for an architecture that registered none); at `algorithm.learningRate`,
 * else the optimizer's default rate.
 */
export function optimizerOf(config: Config, arch: string = config.model.name): OptimizerArgs {
  const a = config.algorithm;
  const kind = a.optimizer ?? modelInfo(arch)?.optimizer ?? 'sgd';
  const learningRate = a.learningRate ?? DEFAULT_LEARNING_RATES[kind];
  return kind === 'sgd' ? { kind, learningRate, momentum: a.momentum } : { kind, learningRate };
}

/**
 * Grow-and-prune settings from config `algorithm` (paper section 4) for architecture
 * `arch` (which picks the default optimizer), with programmatic overrides; the settings
 * config does not hold are `paperUpdateConfig`'s (core/update/config.ts).
 */
export function updateConfig(config: Config, override: Partial<UpdateConfig> = {}, arch: string = config.model.name): UpdateConfig {
  const a = config.algorithm;
  const optimizer = optimizerOf(config, arch);
  const schedule = a.learningRateSchedule;
  return {
    ...paperUpdateConfig,
    growthPercentile: a.growthPercentile,
    growthInterval: a.growthInterval,
    newDataEpochs: a.newDataEpochs,
    allDataEpochs: a.allDataEpochs,
    // The first model grows on all its data for as long as an update grows in total.
    trainEpochs: a.newDataEpochs + a.allDataEpochs,
    pruneFraction: a.pruneFraction,
    pruneFractionMax: Math.max(a.pruneFraction, a.pruneFractionMax),
    pruneFractionMin: a.pruneFraction * PRUNE_FRACTION_MIN_SHARE,
    growthScope: a.growthScope,
    retrainEpochs: a.retrainEpochs,
    averageRetraining: a.averageRetraining,
    referenceDraws: a.referenceDraws,
    pruneRetries: a.pruneRetries,
    pruneScope: a.pruneScope,
    pruneRule: { ...paperUpdateConfig.pruneRule, z: a.pruneMargin },
    nonRecoverable: a.nonRecoverable,
    batchSize: a.batchSize,
    optimizer,
    learningRateSchedule: schedule,
    pruneLearningRate: pruneLearningRateOf(optimizer, schedule),
    augment: a.augment,
    ...override,
  };
}

/** The version a rollback would return to: the last earlier champion that may be promoted again. */
export async function rollbackTarget(registry: ModelRegistry, current: number | null): Promise<number | null> {
  if (current === null) return null;
  const stack = championStack(await registry.history());
  if (stack[stack.length - 1] !== current) stack.push(current);
  const versions = new Map((await registry.list()).map((v) => [v.version, v]));
  for (let i = stack.length - 2; i >= 0; i--) {
    const v = versions.get(stack[i]);
    if (stack[i] !== current && v && canTransition(v.manifest.state, 'promoted')) return v.version;
  }
  return null;
}

/** The registry's view and operations behind the HTTP admin routes. */
export function registryOps(registry: ModelRegistry, metrics: BonsaiMetrics, log: Log): RegistryOps {
  const champion = async (): Promise<void> => {
    const c = await registry.current();
    if (c) reportModel(metrics, 'champion', c.manifest);
  };
  return {
    async list(): Promise<RegistryListing> {
      const current = (await registry.current())?.version ?? null;
      const versions = (await registry.list()).map((v) => {
        const m = v.manifest;
        const live = Object.values(m.parameters).reduce((n, p) => n + p.live, 0);
        const dense = Object.values(m.parameters).reduce((n, p) => n + p.total, 0);
        return {
          version: v.version, state: m.state, parent: m.parent, createdAt: m.createdAt, stateChangedAt: m.stateChangedAt, reason: m.reason,
          samplesSeen: m.samplesSeen, liveParams: live, denseParams: dense, metrics: m.metrics, cost: m.cost, backend: m.backend,
        };
      });
      return { current, previous: await rollbackTarget(registry, current), versions };
    },
    async promote(version) {
      const unchanged = (await registry.current())?.version === version;
      const v = await registry.promote(version, 'promoted by an operator (HTTP)');
      if (!unchanged) {
        log.info('model.promoted_by_operator', { version });
        await champion();
      }
      return { version: v.version, state: v.manifest.state, unchanged };
    },
    async rollback() {
      const v = await registry.rollback('rolled back by an operator (HTTP)');
      log.info('model.rolled_back', { version: v.version });
      await champion();
      return { version: v.version, state: v.manifest.state };
    },
  };
}

/** Image and WAV decoding for the live model's input (the ingestion pipelines). */
export function preprocessors(config: Config): Preprocessors {
  return {
    // A version's own preprocessing (its manifest's) over the config's: requests are decoded as its samples were.
    image: (bytes: Uint8Array, input: ModelInput) => processImage(bytes, { ...imageSpec(config, input.inputShape), ...input.preprocessing?.image }, limitsOf(config)),
    audio: (bytes: Uint8Array, input: ModelInput) => processAudio(bytes, input.preprocessing?.audio ?? audioSpec(config), limitsOf(config)),
    utteranceLimit: (input: ModelInput) => {
      const maxSeconds = config.ingest.limits.maxAudioSeconds;
      return { maxFrames: longestFrames(input.preprocessing?.audio ?? audioSpec(config), maxSeconds), maxSeconds };
    },
  };
}

/** The registry's versions as the artifact routes (followed by `role: server` processes) read them. */
export function registryArtifacts(registry: ModelRegistry): ArtifactSource {
  return {
    current: () => registry.current(),
    async get(version) {
      try {
        return await registry.get(version);
      } catch (err) {
        if (err instanceof BonsaiError && (err.code === 'BONSAI_REGISTRY_NOT_FOUND' || err.code === 'BONSAI_REGISTRY_INVALID_VERSION')) return null;
        throw err;
      }
    },
  };
}

/** An HTTP server listening: the app (to close), its port and its URL. */
export interface Listening {
  app: FastifyInstance;
  port: number;
  url: string;
}

/** Builds the HTTP API on `deps`, listens where config `server` says and logs the URL. */
export async function listenHttp(deps: ServerDeps, config: Config, log: Log): Promise<Listening> {
  const { host, port } = config.server;
  // On 0.0.0.0 fastify lists the machine's interfaces once listening, to log them, and a failure
  // there (no AF_NETLINK: a systemd unit's RestrictAddressFamilies) is thrown from an event
  // handler, where nothing catches it: the process would die holding its locks. Asked first.
  if (host === '0.0.0.0') {
    try {
      networkInterfaces();
    } catch (cause) {
      throw new BonsaiError('BONSAI_DAEMON_LISTEN_FAILED', `cannot listen on ${host}:${port}: the network interfaces cannot be listed (${(cause as Error).message}), which listening on 0.0.0.0 needs; allow AF_NETLINK (systemd: RestrictAddressFamilies) or set server.host to one address`,
        { host, port, errno: (cause as NodeJS.ErrnoException).code ?? 'unknown' }, { cause });
    }
  }
  const app = buildServer(deps);
  try {
    await app.listen({ port, host });
  } catch (cause) {
    await app.close().catch(() => undefined);
    const errno = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    const why = errno === 'EADDRINUSE' ? 'the port is in use (another daemon?)'
      : errno === 'ENOTFOUND' || errno === 'EADDRNOTAVAIL' || errno === 'EAI_AGAIN' ? 'the host is not an address of this machine'
        : errno === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : (cause as Error).message;
    throw new BonsaiError('BONSAI_DAEMON_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${why}`, { host, port, errno }, { cause });
  }
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info('http.listening', { url, mutatingRoutes: deps.token ? 'enabled' : 'disabled (no token)' });
  return { app, port: address.port, url };
}
