/**
 * The one configuration schema of bonsai: every default of the daemon lives
 * here, with a doc comment on each field. `config/default.yaml` spells the same
 * defaults out (a test keeps the two equal) and `docs/configuration.md` lists
 * every key with its environment variable.
 *
 * Objects are strict: an unknown key is an error that names the key's path.
 * Nested objects use `prefault({})`, so a partial section is completed from the
 * defaults of its fields. Cross-field rules live in `checkConsistency` below.
 */
import { validate as isCron } from 'node-cron';
import { z } from 'zod';
import { isSpeechModel, MODALITIES, MODEL_NAMES, MODEL_OPTIONS, modelOptionKeys } from './model-options.ts';

export { MODEL_NAMES } from './model-options.ts';
/** Optimizers of training, growth and pruning (core/train/optimizer.ts). */
export const OPTIMIZER_NAMES = ['sgd', 'adam'] as const;
/** Compute backends, in the order `auto` tries them (DESIGN.md, "Compute backend"). */
export const BACKEND_NAMES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** Log levels (winston's npm levels). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;

const MiB = 1024 * 1024;
const posInt = () => z.number().int().positive();
const nonNegInt = () => z.number().int().nonnegative();

/** Longest delay that a Node timer keeps: setTimeout and setInterval fire a longer one after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Longest period in whole seconds that a timer keeps (MAX_TIMER_MS), about 24.8 days. */
export const MAX_TIMER_SEC = Math.floor(MAX_TIMER_MS / 1000);
/**
 * Longest span of the update triggers, 10 years in seconds: far beyond any schedule, and
 * far below the last date that `Date` holds (8.64e15 ms), which the scheduler's due times
 * (now + the span) must not pass (status and logs print them with toISOString).
 */
export const MAX_TRIGGER_SEC = 10 * 365 * 86_400;

/** Milliseconds that a timer waits, at most `max` (MAX_TIMER_MS, or less where the code multiplies them). */
const timerMs = (min: number, max = MAX_TIMER_MS) => z.number().int().min(min).max(max, `must be at most ${max} ms, the longest wait that a timer keeps`);
/** Seconds that a timer waits (an interval of setInterval), at most MAX_TIMER_SEC. */
const timerSec = () => posInt().max(MAX_TIMER_SEC, `must be at most ${MAX_TIMER_SEC} s (about 24.8 days), the longest wait that a timer keeps`);
/** Seconds of an update trigger, at most MAX_TRIGGER_SEC. */
const triggerSec = (min: number) => z.number().int().min(min).max(MAX_TRIGGER_SEC, `must be at most ${MAX_TRIGGER_SEC} s (10 years)`);

/**
 * A share within [min, max] (a fraction, the unit of every share, in config as in core).
 * A value above 1 is reported as `not_a_fraction` (BONSAI_CONFIG_NOT_A_FRACTION, config/load.ts),
 * the likely slip of a value in percent.
 */
const share = (min: number, max: number) => z.number().superRefine((value, ctx) => {
  if (value > 1) {
    ctx.addIssue({ code: 'custom', input: value, params: { kind: 'not_a_fraction' },
      message: `is ${value}; it is a fraction in ${min === 0 ? '[0, 1]' : '(0, 1]'}, e.g. ${value <= 100 ? `${value / 100} for ${value} %` : '0.05 for 5 %'}` });
  } else if (value < min || value > max) {
    ctx.addIssue({ code: 'custom', input: value, message: `must be between ${min} and ${max} (${min * 100} % to ${max * 100} %)` });
  }
});

/** Largest image side the image pipeline produces (its MAX_OUTPUT_SIDE; test/config/load.test.ts checks they agree). */
export const MAX_IMAGE_SIDE = 8192;

/**
 * Least height and width of LeNet-5's input (core/models/lenet5.ts): its 'same' 5x5 convolution
 * keeps a side s, a 2x2 pool halves it, the 'valid' 5x5 convolution takes 4 and a pool halves it
 * again; floor((floor(s / 2) - 4) / 2) >= 1 needs s >= 12, and a smaller input leaves no features
 * (test/config/load.test.ts builds both sides).
 */
export const LENET5_MIN_SIDE = 12;

/** A share in [0, 1]. */
const fraction = () => share(0, 1);

const imageSchema = z.strictObject({
  /** Height in pixels that every image is resized to (at most MAX_IMAGE_SIDE). */
  height: posInt().max(MAX_IMAGE_SIDE).default(28),
  /** Width in pixels that every image is resized to (at most MAX_IMAGE_SIDE). */
  width: posInt().max(MAX_IMAGE_SIDE).default(28),
  /** Colour channels after decoding: 1 (grey) or 3 (RGB). */
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  /**
   * How an image of another size reaches height x width: `fit` scales it to fit
   * inside and pads (letterbox), `fill` scales it to cover and crops, `mnist`
   * applies MNIST's preprocessing (light backgrounds inverted, the ink fitted into
   * a 20x20 box and centred by its centre of mass in a 28x28 frame; LeCun et al.,
   * "Gradient-based learning applied to document recognition", 1998).
   */
  resize: z.enum(['fit', 'fill', 'mnist']).default('fit'),
  /** The interval [low, high] that pixel values 0..255 are mapped to linearly. */
  range: z.tuple([z.number(), z.number()]).default([0, 1]),
}).prefault({});

/** Sample rates the audio pipeline takes, in Hz (its MIN_SAMPLE_RATE and MAX_SAMPLE_RATE; test/config/load.test.ts checks they agree). */
export const MIN_SAMPLE_RATE = 4000;
export const MAX_SAMPLE_RATE = 192_000;
/**
 * Largest half-width of the deltas' regression window: 16 frames is +-160 ms at the 10 ms
 * hop, longer than a phoneme, so a wider window no longer measures a local slope; and the
 * cost per frame grows with it (1e8 blocked the event loop on one recording). HTK uses 2.
 */
export const MAX_DELTA_WINDOW = 16;

/**
 * Largest FFT length of the audio pipeline (its MAX_FFT_SIZE in pipelines/audio/fft.ts; test/config/load.test.ts
 * checks they agree): 2^16 samples, 341 ms at 192 kHz, far longer than an analysis window.
 */
export const MAX_FFT_SIZE = 65_536;
/** Most mel filters. */
export const MAX_MEL_FILTERS = 256;

/** 0, or a power of two; not by n & (n - 1), which truncates to 32 bits and reads 2^32 + 512 as 512. */
const isZeroOrPowerOfTwo = (n: number): boolean => n === 0 || 2 ** Math.round(Math.log2(n)) === n;

const audioSchema = z.strictObject({
  /** Sample rate in Hz that every recording is resampled to (FSDD is recorded at 8 kHz), 4000 to 192000. */
  sampleRate: z.number().int().min(MIN_SAMPLE_RATE).max(MAX_SAMPLE_RATE, `must be at most ${MAX_SAMPLE_RATE} Hz`).default(8000),
  /** Pre-emphasis coefficient k of y[t] = x[t] - k x[t-1]; 0 turns it off. */
  preEmphasis: z.number().min(0).lt(1).default(0.97),
  /** Analysis window length in milliseconds (Hamming window). */
  windowMs: z.number().positive().default(25),
  /** Step between windows in milliseconds. */
  hopMs: z.number().positive().default(10),
  /** FFT length in samples: a power of two at least as long as one window, at most MAX_FFT_SIZE (65536); 0 = the next power of two of the window. */
  fftSize: nonNegInt().max(MAX_FFT_SIZE, `must be at most ${MAX_FFT_SIZE}, the largest FFT`).refine(isZeroOrPowerOfTwo, 'must be 0 or a power of two').default(512),
  /** Number of triangular mel filters (HTK), at most MAX_MEL_FILTERS; each must take at least one FFT bin (fftSize / 2 + 1 bins). */
  melFilters: z.number().int().min(1).max(MAX_MEL_FILTERS).default(26),
  /** Cepstral coefficients kept per frame, c0 included. */
  coefficients: posInt().default(13),
  /** Lowest frequency of the mel filter bank in Hz. */
  lowHz: z.number().nonnegative().default(20),
  /** Highest frequency of the mel filter bank in Hz; 0 = sampleRate / 2 (Nyquist). */
  highHz: z.number().nonnegative().default(0),
  /** Append deltas and delta-deltas to each frame (three times the coefficients). */
  deltas: z.boolean().default(true),
  /** Half-width N of the regression window of the deltas (frames t-N..t+N), at most MAX_DELTA_WINDOW. */
  deltaWindow: posInt().max(MAX_DELTA_WINDOW).default(2),
  /** Per-utterance mean and variance normalisation of each coefficient (CMVN). */
  normalize: z.boolean().default(true),
}).prefault({});

const modelSchema = z.strictObject({
  /** Network architecture (paper section 5): LeNet-300-100, LeNet-5, ResNet-18, DeepSpeech2. */
  name: z.enum(MODEL_NAMES).default('lenet300'),
  /** Input tensor shape without the batch axis; null = derived from `image` or `audio`. */
  inputShape: z.array(posInt()).min(1).nullable().default(null),
  /**
   * Architecture options of `name` (widths, layers; core/models/options.ts lists each model's),
   * e.g. `{ hidden: 32, rnnLayers: 1 }` for ds2; null = the model's defaults.
   */
  options: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.array(z.number())],
    { error: 'must be a number, text, true or false, or a list of numbers' })).nullable().default(null),
  /** Kind of samples the model consumes; picks the ingestion pipeline. */
  modality: z.enum(MODALITIES).default('image'),
  /** Image preprocessing (modality image). */
  image: imageSchema,
  /** Audio feature extraction, MFCC (modality audio). */
  audio: audioSchema,
}).prefault({});

const backendSchema = z.strictObject({
  /** Compute backend; `auto` picks the first that loads: tensorflow-gpu, tensorflow, wasm, cpu. */
  name: z.enum(BACKEND_NAMES).default('auto'),
  /** Threads for the wasm backend; null = the number of CPU cores. */
  threads: posInt().nullable().default(null),
}).prefault({});

const algorithmSchema = z.strictObject({
  /** Growth percentile alpha (paper eq. 2): grow dormant connections whose |gradient| exceeds it. */
  growthPercentile: z.number().min(30).max(50).default(40),
  /** Percentile over `all` of |W.grad| (paper eq. 1) or over the `dormant` connections only. */
  growthScope: z.enum(['all', 'dormant']).default('all'),
  /** Grow every this many epochs of the growth phase. */
  growthInterval: posInt().default(5),
  /** Pruning fraction beta, a fraction (paper eq. 3: 3 % to 5 %): remove this share of a layer's live weights per iteration. */
  pruneFraction: share(0.03, 0.05).default(0.05),
  /**
   * Largest pruning step, a fraction: each accepted iteration doubles the step from beta up
   * to this, a rejected one halves it (docs/pruning.md). Equal to pruneFraction = a fixed step.
   */
  pruneFractionMax: share(0.03, 0.9).default(0.4),
  /** E1: epochs of growth and training on the new data only (paper section 4.1: 15). */
  newDataEpochs: nonNegInt().default(15),
  /** E2: epochs of growth and training on all data (paper section 4.1: 20). */
  allDataEpochs: nonNegInt().default(20),
  /** Optimizer: `sgd` (with momentum) or `adam`; null = the model's (core/models/options.ts): adam for ds2, sgd for the others. */
  optimizer: z.enum(OPTIMIZER_NAMES).nullable().default(null),
  /** Learning rate eta; also scales the initial value of a grown connection. null = 0.01 with sgd, 0.005 with adam. */
  learningRate: z.number().positive().nullable().default(null),
  /**
   * Learning rate within each training phase: `cosine` anneals it to a tenth over the phase
   * (an update's E1 + E2 as one span) and pruning retrains at that tenth; `constant` keeps it.
   * Constant by default: cosine won on MNIST at SGD 0.05 with 6 + 8 epochs but lost at the
   * daemon's SGD 0.01 with the demo's 2 + 3 (bench/results/README.md, `npm run bench:schedule`).
   */
  learningRateSchedule: z.enum(['constant', 'cosine']).default('constant'),
  /** SGD momentum (sgd only). */
  momentum: z.number().min(0).lt(1).default(0.9),
  /** Mini-batch size. */
  batchSize: posInt().default(64),
  /** Fixed retraining budget of a pruning iteration, in epochs of all data; one decision follows it. */
  retrainEpochs: z.number().positive().max(10).default(0.5),
  /**
   * End each pruning retraining as the mean of its iterates over the second half of the
   * budget (the reference's too), so the decision compares less noisy models (docs/pruning.md).
   */
  averageRetraining: z.boolean().default(true),
  /**
   * Draws of pruning's reference: the pre-pruning model's per-sample validation errors averaged
   * with those of `referenceDraws - 1` retrainings of it without pruning, so that one lucky draw
   * does not read every pruning step as a loss (docs/pruning.md).
   */
  referenceDraws: posInt().max(4).default(1),
  /**
   * Margin of the "no accuracy loss" decision in standard errors of the paired difference
   * between the pruned and the pre-pruning model on the validation samples (docs/pruning.md).
   */
  pruneMargin: z.number().min(0).max(3).default(1),
  /** Failed pruning iterations retried with half the fraction before pruning stops. */
  pruneRetries: nonNegInt().max(5).default(3),
  /**
   * Pruning's percentile (paper eq. 3): over each layer's |W| (`layer`, every layer loses the
   * same share per step) or one over all layers (`global`, the smallest weights wherever they are;
   * the default: measured smaller at a similar error on LeNet-300-100, bench/results/README.md).
   */
  pruneScope: z.enum(['layer', 'global']).default('global'),
  /** Run non-recoverable pruning after recoverable pruning (trades accuracy for size). */
  nonRecoverable: z.boolean().default(false),
  /** Augment training images (small shifts) while training. */
  augment: z.boolean().default(true),
  /**
   * Memory for the features of one update's data, in MiB (2^20 bytes; float32 as stored). Beyond it an
   * update trains on every new sample plus a uniform random sample of the earlier ones, drawn
   * afresh each update, and judges on at most an eighth of it each of validation and test
   * samples (a fixed subset by content hash): memory and the cost of an update stay bounded as
   * the store grows (daemon/trainer/selection.ts). null = always every sample, as in the paper.
   */
  trainingDataMegabytes: z.number().positive().nullable().default(1024),
}).prefault({});

const ingestSchema = z.strictObject({
  /** Limits that a file must respect to be decoded (larger ones go to quarantine/). */
  limits: z.strictObject({
    /** Largest accepted file in bytes. */
    maxFileBytes: posInt().default(16 * MiB),
    /** Largest accepted image in pixels (width x height), checked before decoding. */
    maxPixels: posInt().default(4096 * 4096),
    /** Longest accepted recording in seconds. */
    maxAudioSeconds: z.number().positive().default(60),
    /** Decoding of one file is abandoned after this many milliseconds. */
    decodeTimeoutMs: timerMs(1).default(10_000),
  }).prefault({}),
  /** A label never seen before: `new-class` grows the output layer, `reject` quarantines the file. */
  labelPolicy: z.enum(['new-class', 'reject']).default('new-class'),
  /** Most classes the store may hold; a file that would add one more is quarantined (BONSAI_INGEST_LABEL_LIMIT). */
  maxClasses: z.number().int().min(2).max(100_000).default(1000),
  /** Fractions of new samples assigned (by content hash) to the validation and test splits. */
  splits: z.strictObject({
    /** Share of samples held out for validation (pruning recovery, promotion gate). */
    validation: fraction().default(0.1),
    /** Share of samples held out for the test set (reported, never trained on). */
    test: fraction().default(0.1),
  }).prefault({}),
  /** Watch the inbox by polling instead of OS events (network and container volumes). */
  polling: z.boolean().default(false),
  /**
   * Polling interval in milliseconds (when polling; a server polls its trainer's champion as often).
   * At most a third of MAX_TIMER_MS: the watcher waits three intervals for its first poll (daemon/watch/watcher.ts).
   */
  pollIntervalMs: timerMs(1, Math.floor(MAX_TIMER_MS / 3)).default(1000),
  /** Full rescan of the inbox every this many seconds; watcher events are only hints. */
  reconcileIntervalSec: timerSec().default(60),
  /** A file is read only after its size has not changed for this many milliseconds. */
  awaitWriteFinishMs: timerMs(0).default(2000),
  /** Files decoded in parallel. */
  concurrency: posInt().default(2),
}).prefault({});

const triggersSchema = z.strictObject({
  /** Start an update at this many pending samples; when set, pendingFraction is ignored. */
  pendingCount: posInt().nullable().default(null),
  /** Start an update when pending samples reach this fraction of the samples already learned; null = off. */
  pendingFraction: z.number().positive().nullable().default(0.1),
  /** Samples in the store before the first model is trained. */
  initialCount: posInt().default(100),
  /**
   * Cron expression (node-cron syntax) that starts an update when samples are pending; null = off.
   * Checked here with node-cron's own validate, so that `bonsai check` refuses what the scheduler
   * would (node-cron also refuses a day that no month has, such as 30 February).
   */
  cron: z.string().min(1).refine((e) => isCron(e), 'is not a valid node-cron expression: 5 fields (6 with seconds), each in its range, '
    + 'and a day the month can have (e.g. "0 3 * * *" for 03:00 daily)').nullable().default(null),
  /** Least time in seconds between the starts of two updates. */
  minIntervalSec: triggerSec(0).default(60),
  /** Start an update once the oldest pending sample has waited this long, even below the thresholds; null = off. */
  maxWaitSec: triggerSec(1).nullable().default(86_400),
}).prefault({});

const gateSchema = z.strictObject({
  /**
   * Loss accepted on top of the decision's margin (absolute error, 0..1): a candidate is
   * promoted unless it is worse than the champion by more than this plus `margin`
   * standard errors of the paired difference on the same validation samples.
   */
  tolerance: fraction().default(0),
  /** Margin in standard errors of the paired difference (docs/pruning.md). */
  margin: z.number().min(0).max(3).default(1),
  /** Validation samples the store must hold before the first model is trained (0 = none). */
  minValidationSamples: nonNegInt().default(100),
}).prefault({});

const registrySchema = z.strictObject({
  /** K: model versions kept besides the champion and its rollback target. */
  keep: posInt().default(5),
}).prefault({});

const serverSchema = z.strictObject({
  /** Address to listen on; loopback by default (set 0.0.0.0 in containers, with a token). */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port of the HTTP API and /metrics. */
  port: z.number().int().min(0).max(65_535).default(8080),
  /** Largest accepted request body in bytes. */
  bodyLimitBytes: posInt().default(16 * MiB),
  /** Longest time in milliseconds a client may take to send a whole request; slower ones are closed. */
  requestTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
  /** Most open HTTP connections; further ones are closed at once. */
  maxConnections: z.number().int().min(16).max(1_000_000).default(1024),
  /** Most bytes of request bodies in flight across all requests; further requests are answered 503 before their body is read. */
  maxInflightBodyBytes: posInt().default(256 * MiB),
  /** Environment variable that holds the bearer token of mutating routes. */
  tokenEnv: z.string().min(1).default('BONSAI_TOKEN'),
  /** File that holds the bearer token (read when tokenEnv is unset); null = none. */
  tokenFile: z.string().min(1).nullable().default(null),
  /** Run sparse-enough fully connected layers of the served model on CSR kernels (core/sparse/sparse-inference.ts). */
  sparseInference: z.boolean().default(true),
  /** Merging of concurrent predict requests into one forward pass. */
  batching: z.strictObject({
    /** Most samples in one merged forward pass; 1 turns batching off. */
    maxBatchSize: posInt().default(32),
    /** Longest wait in milliseconds of a queued request for others still being decoded. */
    maxDelayMs: z.number().min(0).max(1000).default(1),
  }).prefault({}),
}).prefault({});

/**
 * Largest prequential window: a million samples is far more than a "recent" accuracy needs, and
 * its one byte a sample is allocated at start (1e10 failed there with a raw RangeError).
 */
export const MAX_PREQUENTIAL_WINDOW = 1_000_000;

const metricsSchema = z.strictObject({
  /**
   * Samples in the sliding window of prequential (predict-then-learn) accuracy, at most
   * MAX_PREQUENTIAL_WINDOW (the window is allocated at start, one byte a sample).
   */
  prequentialWindow: posInt().max(MAX_PREQUENTIAL_WINDOW).default(500),
  /** Histogram bins of the drift scores. */
  driftBins: z.number().int().min(2).default(10),
}).prefault({});

const logSchema = z.strictObject({
  /** Least severe level written. */
  level: z.enum(LOG_LEVELS).default('info'),
  /** `json` lines, `pretty` text, or `auto`: pretty on a terminal, json otherwise. */
  format: z.enum(['json', 'pretty', 'auto']).default('auto'),
}).prefault({});

/** The configuration schema; parse with `parseConfig` (config/load.ts) to get a frozen `Config`. */
export const configSchema = z.strictObject({
  /** State directory: inbox/, archive/, quarantine/, store.db, models/. */
  stateDir: z.string().min(1).default('./var'),
  /** The network and its input pipeline. */
  model: modelSchema,
  /** Compute backend. */
  backend: backendSchema,
  /** Grow-and-prune hyperparameters (paper section 4). */
  algorithm: algorithmSchema,
  /** Ingestion of dropped files. */
  ingest: ingestSchema,
  /** When an update starts (one at a time). */
  triggers: triggersSchema,
  /** The promotion gate. */
  gate: gateSchema,
  /** Model registry retention. */
  registry: registrySchema,
  /** The HTTP server. */
  server: serverSchema,
  /** `all` runs everything in one daemon; `trainer` ingests and trains; `server` only serves the registry's champion. */
  role: z.enum(['all', 'trainer', 'server']).default('all'),
  /**
   * URL of the trainer process that a `server` forwards updates, promotions and rollbacks to, http:// or
   * https:// without credentials (what fetch takes; a file:// or ftp:// URL, or user:password@, would
   * only fail at each request); null = none.
   */
  trainerUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL (e.g. http://trainer:8080)' })
    // fetch refuses a URL with credentials at every request; the trainer's API token goes in server.tokenFile or BONSAI_TOKEN.
    .refine((url) => { const u = new URL(url); return u.username === '' && u.password === ''; },
      'must not hold a user name or password (fetch refuses such a URL at every request): give the trainer\'s API token by server.tokenFile or BONSAI_TOKEN')
    .nullable().default(null),
  /** Model metrics and drift. */
  metrics: metricsSchema,
  /** Logging. */
  log: logSchema,
}).superRefine(checkConsistency);

/** The parsed configuration, before freezing. */
export type ConfigShape = z.output<typeof configSchema>;
/** What a config file, env or flags may hold: every field optional. */
export type ConfigInput = z.input<typeof configSchema>;

/** Recursively read-only; tuples stay tuples (`range` is `readonly [number, number]`). */
export type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The validated, deeply frozen configuration that every part of bonsai reads. */
export type Config = DeepReadonly<ConfigShape>;

/** Rules that span several fields; each issue names the field to change. */
function checkConsistency(c: ConfigShape, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string, input: unknown): void => {
    ctx.addIssue({ code: 'custom', path, message, input });
  };
  const a = c.model?.audio;
  if (a && typeof a.sampleRate === 'number') checkAudio(a, (key, message, input) => issue(['model', 'audio', key], message, input));
  const longest = c.ingest?.limits?.maxAudioSeconds;
  // Each recording is refused, as too long or as shorter than one window.
  if (c.model?.modality === 'audio' && a && typeof longest === 'number' && longest * 1000 < a.windowMs) {
    issue(['ingest', 'limits', 'maxAudioSeconds'], `is shorter than one analysis window (model.audio.windowMs ${a.windowMs} ms): every recording would be refused`, longest);
  }
  const m = c.model;
  if (m && typeof m.options === 'object' && m.options !== null) {
    const allowed = modelOptionKeys(m.name);
    for (const [key, value] of Object.entries(m.options)) {
      const rule = Object.hasOwn(MODEL_OPTIONS[m.name] ?? {}, key) ? MODEL_OPTIONS[m.name][key] : undefined;
      if (!rule) {
        // An unknown key (BONSAI_CONFIG_UNKNOWN_KEY): config/load.ts adds the closest allowed one.
        ctx.addIssue({ code: 'custom', path: ['model', 'options', key], input: value, params: { kind: 'unknown_key', allowed },
          message: `unknown option of model ${m.name}; ${allowed.length === 0 ? `${m.name} takes no options` : `allowed: ${allowed.join(', ')}`}` });
        continue;
      }
      const checked = rule.schema.safeParse(value);
      if (!checked.success) for (const i of checked.error.issues) issue(['model', 'options', key], `option of ${m.name}: ${i.message}`, value);
    }
  }
  if (m && m.image && typeof m.name === 'string') checkInputShape(m, issue);
  const range = c.model?.image?.range;
  if (Array.isArray(range) && !(range[0] < range[1])) issue(['model', 'image', 'range'], 'low must be < high', range);
  // Pixels are mapped by low + v / 255 * (high - low): an infinite span makes every feature NaN.
  else if (Array.isArray(range) && !Number.isFinite(range[1] - range[0])) issue(['model', 'image', 'range'], `high - low must be a finite number (is ${range[1] - range[0]})`, range);
  const srv = c.server;
  // A body of the largest accepted size could never be taken: every such request would be answered 503.
  if (srv && srv.maxInflightBodyBytes < srv.bodyLimitBytes) {
    issue(['server', 'maxInflightBodyBytes'], `must be >= server.bodyLimitBytes (${srv.bodyLimitBytes}), or a body of the largest accepted size is always refused`, srv.maxInflightBodyBytes);
  }
  const s = c.ingest?.splits;
  // A share above 1 is reported on its own (not_a_fraction).
  if (s && s.validation <= 1 && s.test <= 1 && s.validation + s.test >= 1) issue(['ingest', 'splits'], `validation + test must be < 1 (is ${s.validation + s.test})`, s);
}

/**
 * The audio pipeline's rules on its spec (validateAudioSpec in pipelines/audio/spec.ts, which
 * config/ may not import; test/config/load.test.ts checks that both accept the same specs),
 * plus hopMs <= windowMs. Sizes in samples are rounded as the pipeline rounds them.
 */
function checkAudio(a: ConfigShape['model']['audio'], issue: (key: keyof typeof a, message: string, input: unknown) => void): void {
  const at = `at ${a.sampleRate} Hz`;
  if (a.hopMs > a.windowMs) issue('hopMs', `must be <= windowMs (${a.windowMs})`, a.hopMs);
  const windowSamples = Math.round((a.windowMs * a.sampleRate) / 1000);
  if (windowSamples < 2) issue('windowMs', `gives ${windowSamples} samples ${at}; a window needs at least 2`, a.windowMs);
  if (Math.round((a.hopMs * a.sampleRate) / 1000) < 1) issue('hopMs', `gives 0 samples ${at}; a hop needs at least 1`, a.hopMs);
  if (a.fftSize !== 0 && (windowSamples > a.fftSize || a.fftSize < 4)) {
    issue('fftSize', `must be 0 or >= 4 and >= one window of ${windowSamples} samples (windowMs ${a.windowMs} ${at})`, a.fftSize);
  }
  // fftSize 0 takes the next power of two of the window, at least 4.
  const fftSize = Math.max(4, a.fftSize === 0 ? 2 ** Math.ceil(Math.log2(windowSamples)) : a.fftSize);
  if (a.fftSize === 0 && fftSize > MAX_FFT_SIZE) {
    issue('windowMs', `gives ${windowSamples} samples ${at}, for which fftSize 0 takes an FFT of ${fftSize}, more than the largest, ${MAX_FFT_SIZE}`, a.windowMs);
  }
  const nyquist = a.sampleRate / 2;
  if (a.highHz > nyquist) issue('highHz', `must be <= sampleRate / 2 (${nyquist}), or 0 for that`, a.highHz);
  const high = a.highHz === 0 ? nyquist : a.highHz;
  if (a.lowHz >= high) issue('lowHz', `must be < highHz (${high})`, a.lowHz);
  if (a.coefficients > a.melFilters) issue('coefficients', `must be <= melFilters (${a.melFilters})`, a.coefficients);
}

/**
 * What is wrong with the mel filters against the FFT's bins, or null: more filters than bins, or
 * a filter no bin falls inside (narrower than the bins' spacing), whose log energy is then the
 * floor in every frame. Said at start (config.mel_filters_empty), not refused: such a spec used to
 * load, and samples and models made with it must still decode. Null also where the sizes or the
 * range are invalid (checkAudio refuses those).
 */
export function melFilterWarning(a: ConfigShape['model']['audio']): string | null {
  const windowSamples = Math.round((a.windowMs * a.sampleRate) / 1000);
  const fftSize = Math.max(4, a.fftSize === 0 ? 2 ** Math.ceil(Math.log2(windowSamples)) : a.fftSize);
  const nyquist = a.sampleRate / 2;
  const high = a.highHz === 0 ? nyquist : a.highHz;
  const sizesValid = windowSamples >= 2 && isZeroOrPowerOfTwo(a.fftSize) && (a.fftSize === 0 || a.fftSize >= 4) && fftSize >= windowSamples && fftSize <= MAX_FFT_SIZE
    && Number.isInteger(a.melFilters) && a.melFilters >= 1 && a.melFilters <= MAX_MEL_FILTERS && a.lowHz >= 0 && a.lowHz < high && high <= nyquist;
  if (!sizesValid) return null;
  const bins = fftSize / 2 + 1;
  const fft = a.fftSize === 0 ? `fftSize 0 (${fftSize} for the window of ${windowSamples} samples)` : `fftSize ${fftSize}`;
  const advice = 'its features are constant; use fewer filters, a larger fftSize or a higher lowHz';
  if (a.melFilters > bins) return `model.audio.melFilters ${a.melFilters} is more than the ${bins} bins of ${fft}: filters without a bin carry nothing (${advice})`;
  const empty = firstEmptyMelFilter(a.sampleRate, fftSize, a.melFilters, a.lowHz, high);
  if (empty === null) return null;
  return `model.audio.melFilters ${a.melFilters} with ${fft} at ${a.sampleRate} Hz leaves filter ${empty.filter} (${empty.fromHz} to ${empty.toHz} Hz) without an FFT bin (bins are `
    + `${Math.round((a.sampleRate / fftSize) * 100) / 100} Hz apart): ${advice}`;
}

/**
 * The first filter (from 1) of the audio pipeline's mel filterbank that no FFT bin falls inside, with its
 * edges in Hz, or null when each has one: the arithmetic of firstEmptyFilter in pipelines/audio/mel.ts,
 * which config/ may not import (test/config/load.test.ts checks that both find the same filter).
 * HTK's mel scale; bin k lies at mel(k * sampleRate / fftSize) and filter m takes the bins strictly
 * between its edges m and m + 2, equally spaced in mel from lowHz to highHz.
 */
export function firstEmptyMelFilter(sampleRate: number, fftSize: number, filters: number, lowHz: number, highHz: number): { filter: number; fromHz: number; toHz: number } | null {
  const hzToMel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
  const bins = fftSize / 2 + 1;
  const lowMel = hzToMel(lowHz);
  const highMel = hzToMel(highHz);
  const edge = (i: number): number => lowMel + ((highMel - lowMel) * i) / (filters + 1);
  const binMel = (k: number): number => hzToMel((k * sampleRate) / fftSize);
  const hz = (mel: number): number => Math.round(700 * (10 ** (mel / 2595) - 1) * 100) / 100;
  let k = 0;
  for (let m = 0; m < filters; m++) {
    const left = edge(m);
    while (k < bins && binMel(k) <= left) k++;
    if (k === bins || binMel(k) >= edge(m + 2)) return { filter: m + 1, fromHz: hz(left), toHz: hz(edge(m + 2)) };
  }
  return null;
}

/**
 * The shape a classifier reads: images are [height, width, channels] (1 or 3 channels, sides
 * the image pipeline produces); LeNet-5 reads [height, width, channels] of at least
 * LENET5_MIN_SIDE a side. Otherwise every update would fail later, for want of data that fits
 * the model or of features. A speech model's shape is checked at start (daemon/wiring.ts).
 */
function checkInputShape(m: ConfigShape['model'], issue: (path: (string | number)[], message: string, input: unknown) => void): void {
  if (isSpeechModel(m.name)) return;
  const { height, width, channels } = m.image;
  const shape = m.inputShape ?? (m.modality === 'image' ? [height, width, channels] : null);
  // Entries that are not positive integers are reported by the field's own rule.
  if (shape === null || !shape.every((n) => Number.isInteger(n) && n > 0)) return;
  const path = m.inputShape ? ['model', 'inputShape'] : ['model', 'image'];
  const reader = m.modality === 'image' ? 'images' : m.name === 'lenet5' ? 'LeNet-5' : null;
  if (reader !== null && shape.length !== 3) {
    issue(path, `must be [height, width, channels] for ${reader}, or null for model.image's size`, shape);
    return;
  }
  if (m.modality === 'image' && m.inputShape) {
    if (shape[2] !== 1 && shape[2] !== 3) issue(path, 'must have 1 or 3 channels (grey or RGB), as images are decoded', shape);
    if (Math.max(shape[0], shape[1]) > MAX_IMAGE_SIDE) issue(path, `must have sides of at most ${MAX_IMAGE_SIDE} pixels, as images are resized`, shape);
  }
  if (m.name === 'lenet5' && Math.min(shape[0], shape[1]) < LENET5_MIN_SIDE) {
    issue(path, `is ${shape[0]}x${shape[1]}; LeNet-5 needs at least ${LENET5_MIN_SIDE}x${LENET5_MIN_SIDE} (its convolutions and pools leave no features of less)`,
      m.inputShape ?? { height, width });
  }
}
