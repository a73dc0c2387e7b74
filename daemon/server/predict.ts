/**
 * `POST /v1/predict`: an image (image/*), a WAV (audio/wav, audio/x-wav,
 * audio/wave, audio/vnd.wave) or a JSON tensor in, class scores of the live
 * model out, or for a speech model (ds2) the transcript. The request holds a
 * lease on the model from preprocessing to the answer, so a swap never pulls
 * the model out from under it. Concurrent requests share forward passes
 * (batcher.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BonsaiError } from '../../core/errors.ts';
import type { ProcessedSample } from '../../pipelines/types.ts';
import type { LoadedModel } from '../serving/types.ts';
import { shapeSize } from '../serving/types.ts';
import type { ServingMonitor } from '../metrics/monitor.ts';
import { type BatchingOptions, PredictBatcher } from './batcher.ts';
import { HttpError, PREPROCESS_STATUS, httpError } from './errors.ts';
import { parseTensorBody, parseUtteranceBody } from './tensor.ts';
import { parseJsonBody } from './json-body.ts';
import type { ServerDeps, ServerLimits } from './types.ts';

/** Media types accepted as WAV recordings. */
export const WAV_MEDIA_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'] as const;

/** What kind of input a request carries. */
export type InputKind = 'image' | 'audio' | 'tensor';

/** One sample's answer. */
export interface Prediction {
  /** Label of the most probable class. */
  label: string;
  /** Index of the most probable class. */
  class: number;
  /** Probability per label, or per class index with `?scores=array`. */
  scores: Record<string, number> | number[];
}

/** One utterance's answer from a speech model. */
export interface Transcription {
  /** The decoded words ("" when nothing was recognised). */
  transcript: string;
}

/**
 * The body of a successful answer: one prediction at the top level, or `predictions` for a batch.
 * With `?scores=array`, `labels` names each class index (the model's label order).
 */
export type PredictResponse = { version: number; modality: string; input: InputKind; labels?: readonly string[] }
  & (Prediction | { predictions: Prediction[] } | Transcription | { predictions: Transcription[] });

/** Default batching (config `server.batching`): up to 32 samples, waiting at most 1 ms. */
export const DEFAULT_BATCHING: BatchingOptions = { maxBatchSize: 32, maxDelayMs: 1 };

/** Registers the predict route with its own body parsers, limit and metrics; returns its batcher. */
export function registerPredict(app: FastifyInstance, deps: ServerDeps, limits: ServerLimits, monitor: ServingMonitor): PredictBatcher {
  const { holder, metrics } = deps;
  const batcher = new PredictBatcher(deps.batching ?? DEFAULT_BATCHING);
  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void): void => done(null, body);
  app.addContentTypeParser(/^image\//i, { parseAs: 'buffer' }, raw);
  for (const type of WAV_MEDIA_TYPES) app.addContentTypeParser(type, { parseAs: 'buffer' }, raw);
  app.removeContentTypeParser('text/plain');
  // JSON with its nesting measured before parsing (daemon/server/json-body.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error);
    }
  });

  app.post('/v1/predict', {
    bodyLimit: limits.bodyLimitBytes,
    onResponse: async (_request, reply) => {
      metrics.predictRequests.inc({ code: String(reply.statusCode) });
      metrics.predictDuration.observe(reply.elapsedTime / 1000);
    },
  }, async (request, reply) => {
    const kind = inputKind(request.headers['content-type']);
    const scoresAs = scoresFormat(request.query);
    const lease = holder.tryAcquire();
    if (lease === null) {
      reply.header('retry-after', '1');
      throw httpError('BONSAI_HTTP_NO_MODEL', holder.status().swapping ? 'no model is being served yet: the first one is loading' : 'no model is being served yet: none has been promoted or loaded', { swapping: holder.status().swapping });
    }
    const ticket = batcher.begin();
    try {
      const model = lease.model;
      if (model.transcribe) return reply.send(await transcribe(kind, request.body, model, deps, limits));
      const { batch, n, batched } = await toBatch(kind, request.body, model, deps, limits);
      const probabilities = await ticket.predict(model, batch, n);
      const classes = model.labels.length;
      if (probabilities.length !== n * classes) {
        throw httpError('BONSAI_HTTP_MODEL_OUTPUT', `model ${model.version} returned ${probabilities.length} scores for ${n} sample(s) of ${classes} classes`, { version: model.version, got: probabilities.length, expected: n * classes });
      }
      await checkFinite(probabilities, classes, batch, model);
      const predictions: Prediction[] = [];
      for (let i = 0; i < n; i++) predictions.push(predictionOf(probabilities.subarray(i * classes, (i + 1) * classes), model.labels, scoresAs));
      monitor.observe(model, batch, n, batch.length / n, predictions.map((p) => p.class));
      const head = { version: model.version, modality: model.modality, input: kind, ...(scoresAs === 'array' ? { labels: model.labels } : {}) };
      const body: PredictResponse = batched ? { ...head, predictions } : { ...head, ...predictions[0] };
      return reply.send(body);
    } finally {
      ticket.end();
      lease.release();
    }
  });
  return batcher;
}

function inputKind(header: string | undefined): InputKind {
  const type = (header ?? '').split(';')[0].trim().toLowerCase();
  if (type.startsWith('image/')) return 'image';
  if ((WAV_MEDIA_TYPES as readonly string[]).includes(type)) return 'audio';
  if (type === 'application/json') return 'tensor';
  throw httpError('BONSAI_HTTP_EMPTY_BODY', 'request has no body; send an image (image/*), a WAV (audio/wav) or a JSON tensor (application/json)');
}

function scoresFormat(query: unknown): 'object' | 'array' {
  const value = (query as Record<string, unknown> | undefined)?.scores;
  if (value === undefined || value === 'object') return 'object';
  if (value === 'array') return 'array';
  throw httpError('BONSAI_HTTP_BAD_REQUEST', `query parameter scores must be "object" or "array", got ${JSON.stringify(value)}`, { scores: value });
}

/** An image or a recording through the live model's pipeline. */
async function preprocessFile(kind: 'image' | 'audio', body: unknown, model: LoadedModel, deps: ServerDeps): Promise<ProcessedSample> {
  if (kind !== model.modality) {
    throw httpError('BONSAI_HTTP_WRONG_MODALITY', `the live model (version ${model.version}) takes ${model.modality} input; got ${kind === 'image' ? 'an image' : 'a recording'}`, { expected: model.modality, actual: kind });
  }
  const bytes = body as Buffer;
  if (bytes.length === 0) throw httpError('BONSAI_HTTP_EMPTY_BODY', `the ${kind} body is empty`);
  const input = { version: model.version, modality: model.modality, inputShape: model.inputShape, ...(model.preprocessing && { preprocessing: model.preprocessing }) };
  try {
    return await (kind === 'image' ? deps.preprocess.image(bytes, input) : deps.preprocess.audio(bytes, input));
  } catch (err) {
    if (err instanceof BonsaiError && !(err instanceof HttpError)) {
      // A decode that timed out behind a queue of others says the server is overloaded, not that the input is bad.
      const overloaded = typeof err.details.queued === 'number' && err.details.queued > 0;
      throw new HttpError(overloaded ? 503 : PREPROCESS_STATUS, err.code, err.message, { ...err.details }, { cause: err });
    }
    throw err;
  }
}

/** A speech model's answer: one transcript per utterance (a WAV, or JSON MFCC frames). */
async function transcribe(kind: InputKind, body: unknown, model: LoadedModel, deps: ServerDeps, limits: ServerLimits): Promise<PredictResponse> {
  const width = model.inputShape[model.inputShape.length - 1];
  let utterances: Float32Array[];
  let batched = false;
  if (kind === 'tensor') {
    // A JSON number takes at least two bytes ("0,"): no body under the limit holds more values.
    ({ utterances, batched } = parseUtteranceBody(body, width, limits.maxBatch, Math.floor(limits.bodyLimitBytes / 2)));
    checkUtteranceLength(utterances, width, model, deps);
  } else {
    const sample = await preprocessFile(kind, body, model, deps);
    if (sample.shape.length !== 2 || sample.shape[1] !== width) {
      throw httpError('BONSAI_HTTP_INPUT_SHAPE_MISMATCH', `the decoded recording has shape [${sample.shape.join(', ')}], the model takes [frames, ${width}] (a different model.audio config?)`, { expected: ['frames', width], actual: sample.shape });
    }
    utterances = [sample.features];
  }
  let transcripts: string[];
  try {
    transcripts = await (model.transcribe as NonNullable<LoadedModel['transcribe']>)(utterances);
  } catch (err) {
    // The decoder refuses NaN or infinite outputs (BONSAI_CORE_DECODE_NON_FINITE): finite input the model's float32
    // arithmetic overflows. Its index is the utterance's place in the decoder's sorted batch, so the request's largest
    // value is named instead.
    if (!(err instanceof BonsaiError) || !err.code.endsWith('_NON_FINITE')) throw err;
    const magnitude = Math.max(...utterances.map((u) => largestMagnitude(u, 0, u.length)));
    throw nonFiniteOutput(model, utterances.length === 1 ? 'the utterance' : `one of the ${utterances.length} utterances`, { maxInputMagnitude: magnitude }, err);
  }
  if (transcripts.length !== utterances.length) {
    throw httpError('BONSAI_HTTP_MODEL_OUTPUT', `model ${model.version} returned ${transcripts.length} transcripts for ${utterances.length} utterance(s)`, { version: model.version, got: transcripts.length, expected: utterances.length });
  }
  const head = { version: model.version, modality: model.modality, input: kind };
  return batched ? { ...head, predictions: transcripts.map((transcript) => ({ transcript })) } : { ...head, transcript: transcripts[0] };
}

/**
 * Refuses a JSON utterance longer than the longest recording the server decodes: transcribing
 * holds the event loop, and for longer ones more than in proportion (50,000 frames, a 4 MB body,
 * held it 37 s; 200,000 frames failed with a RangeError, a 500).
 */
function checkUtteranceLength(utterances: readonly Float32Array[], width: number, model: LoadedModel, deps: ServerDeps): void {
  const limit = deps.preprocess.utteranceLimit?.(model);
  if (limit === undefined) return;
  const frames = utterances.length === 0 ? 0 : utterances[0].length / width;
  if (frames > limit.maxFrames) {
    throw httpError('BONSAI_HTTP_UTTERANCE_TOO_LONG', `an utterance of ${frames} frames is longer than the ${limit.maxFrames} frames of the longest recording accepted (${limit.maxSeconds} s, ingest.limits.maxAudioSeconds)`,
      { frames, maxFrames: limit.maxFrames, maxAudioSeconds: limit.maxSeconds });
  }
}

/** The largest |x| of `values[from..to)`. */
function largestMagnitude(values: Float32Array, from: number, to: number): number {
  let largest = 0;
  for (let i = from; i < to; i++) largest = Math.max(largest, Math.abs(values[i]));
  return largest;
}

function nonFiniteOutput(model: LoadedModel, which: string, details: { sample?: number; maxInputMagnitude: number }, cause?: unknown): HttpError {
  return httpError('BONSAI_HTTP_NON_FINITE_OUTPUT',
    `model ${model.version} computed NaN or infinite scores for ${which}, whose values reach ${details.maxInputMagnitude.toPrecision(4)} in magnitude: input so far outside what the model was trained on overflows its float32 arithmetic`,
    { version: model.version, ...details }, cause);
}

/** Whether each model's scores are finite for an input of zeros (asked once per model), or why that could not be told. */
const zeroChecks = new WeakMap<LoadedModel, Promise<boolean | Error>>();

function finiteAtZeros(model: LoadedModel, size: number): Promise<boolean | Error> {
  let check = zeroChecks.get(model);
  if (check === undefined) {
    check = model.predict(new Float32Array(size), 1).then((scores) => scores.every(Number.isFinite), (err: unknown) => {
      zeroChecks.delete(model); // asked again next time: the failure may pass (memory, a busy backend)
      return err instanceof Error ? err : new Error(String(err));
    });
    zeroChecks.set(model, check);
  }
  return check;
}

/**
 * Refuses scores that are not all finite: finite input can still overflow the model (3e38 in
 * every value of an MLP's input gives NaN), and its answer would be a label picked from nulls.
 * A model whose scores are not finite even for an input of zeros is broken itself (diverged or
 * damaged weights): that is the server's fault, a 500 that is reported, not the client's.
 */
async function checkFinite(probabilities: Float32Array, classes: number, batch: Float32Array, model: LoadedModel): Promise<void> {
  for (let i = 0; i < probabilities.length; i++) {
    if (Number.isFinite(probabilities[i])) continue;
    const n = probabilities.length / classes;
    const sample = Math.floor(i / classes);
    const size = batch.length / n;
    const atZeros = await finiteAtZeros(model, size);
    if (atZeros !== true) {
      throw httpError('BONSAI_HTTP_MODEL_OUTPUT', atZeros === false
        ? `model ${model.version} computes NaN or infinite scores even for an input of zeros: its weights are broken; roll back to an earlier version (bonsai models rollback)`
        : `model ${model.version} computed NaN or infinite scores, and running it on an input of zeros to tell whether its weights are broken failed: ${atZeros.message}`,
      { version: model.version, nonFinite: true }, atZeros === false ? undefined : atZeros);
    }
    throw nonFiniteOutput(model, n === 1 ? 'the sample' : `sample ${sample}`, { sample, maxInputMagnitude: largestMagnitude(batch, sample * size, (sample + 1) * size) });
  }
}

async function toBatch(kind: InputKind, body: unknown, model: LoadedModel, deps: ServerDeps, limits: ServerLimits): Promise<{ batch: Float32Array; n: number; batched: boolean }> {
  if (kind === 'tensor') return parseTensorBody(body, model.inputShape, limits.maxBatch);
  const sample = await preprocessFile(kind, body, model, deps);
  const size = shapeSize(model.inputShape);
  if (shapeSize(sample.shape) !== size || sample.features.length !== size) {
    throw httpError('BONSAI_HTTP_INPUT_SHAPE_MISMATCH', `the decoded ${kind} has shape [${sample.shape.join(', ')}], the model takes [${model.inputShape.join(', ')}]`, { expected: [...model.inputShape], actual: sample.shape });
  }
  return { batch: sample.features, n: 1, batched: false };
}

/** Rounds a probability to 6 significant digits (float32 has about 7). */
function round(p: number): number {
  return Number(p.toPrecision(6));
}

function predictionOf(scores: Float32Array, labels: readonly string[], as: 'object' | 'array'): Prediction {
  let best = 0;
  for (let k = 1; k < scores.length; k++) if (scores[k] > scores[best]) best = k;
  const rounded = Array.from(scores, round);
  return {
    label: labels[best],
    class: best,
    scores: as === 'array' ? rounded : Object.fromEntries(labels.map((l, k) => [l, rounded[k]])),
  };
}
