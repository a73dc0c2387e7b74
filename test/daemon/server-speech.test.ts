/**
 * `POST /v1/predict` with a speech model: a WAV (or JSON MFCC frames) in, the
 * transcript and the version out; the errors of a speech model's input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessedSample } from '../../pipelines/types.ts';
import { encodeWav } from '../../pipelines/audio/index.ts';
import { preprocessors } from '../../daemon/wiring.ts';
import type { Preprocessors } from '../../daemon/server/index.ts';
import { testConfig } from './e2e-helpers.ts';
import { BonsaiError } from '../../core/errors.ts';
import { createMetrics } from '../../daemon/metrics/index.ts';
import { ModelHolder, type LoadedModel } from '../../daemon/serving/index.ts';
import { buildServer } from '../../daemon/server/index.ts';
import { FakeRegistry, fakeModel } from './server-fakes.ts';

const WIDTH = 3;
const WORDS = ['zero', 'one', 'two'];

/** A speech model whose transcript is WORDS[frames mod 3]; it records what it was asked. */
function fakeSpeechModel(version: number, asked: number[][]): LoadedModel {
  return {
    version, labels: ['<blank>', 'a'], inputShape: [WIDTH], modality: 'audio',
    async transcribe(utterances) {
      asked.push(utterances.map((u) => u.length / WIDTH));
      // As ds2's decoder refuses the NaN outputs of input its float32 arithmetic overflows.
      const overflowing = utterances.findIndex((u) => u.some((v) => Math.abs(v) > 1e30));
      if (overflowing >= 0) throw new BonsaiError('BONSAI_CORE_DECODE_NON_FINITE', `decode: output [${overflowing}, 0, 0] is NaN`, { index: [overflowing, 0, 0], value: 'NaN' });
      return utterances.map((u) => WORDS[(u.length / WIDTH) % 3]);
    },
    async predict(): Promise<Float32Array> {
      throw new Error('a speech model answers transcripts');
    },
    async warmUp() {},
    dispose() {},
  };
}

/** A "WAV" of n bytes becomes n frames; a body starting with "WIDE" has frames of 4 features. */
async function fakeAudio(bytes: Uint8Array): Promise<ProcessedSample> {
  if (Buffer.from(bytes.subarray(0, 4)).toString() === 'WIDE') return { modality: 'audio', features: new Float32Array(8), shape: [2, 4] };
  return { modality: 'audio', features: new Float32Array(bytes.length * WIDTH).fill(0.5), shape: [bytes.length, WIDTH] };
}

async function server(model: (v: number) => LoadedModel, preprocess: Preprocessors = { image: fakeAudio, audio: fakeAudio }) {
  const holder = new ModelHolder({ loader: async (v) => model(v) });
  await holder.swapTo(7);
  const app = buildServer({
    holder, registry: new FakeRegistry(), metrics: createMetrics({ version: '0.0.0-test', defaultMetrics: false }),
    preprocess,
    updates: { requestUpdate: async () => ({ accepted: true, state: 'started' }) },
    status: { status: () => ({}) },
    limits: { maxBatch: 4 },
  });
  await app.ready();
  return app;
}

test('a WAV posted to a speech model is answered with its transcript and the version', async () => {
  const asked: number[][] = [];
  const app = await server((v) => fakeSpeechModel(v, asked));
  for (const type of ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']) {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': type }, payload: Buffer.alloc(4) });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { version: 7, modality: 'audio', input: 'audio', transcript: 'one' });
  }
  assert.deepEqual(asked[0], [4]);
  const image = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(4) });
  assert.equal(image.statusCode, 415);
  assert.equal(image.json().error.code, 'BONSAI_HTTP_WRONG_MODALITY');
  const wide = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'audio/wav' }, payload: Buffer.from('WIDE') });
  assert.equal(wide.statusCode, 422);
  assert.equal(wide.json().error.code, 'BONSAI_HTTP_INPUT_SHAPE_MISMATCH');
  assert.deepEqual(wide.json().error.details, { expected: ['frames', WIDTH], actual: [2, 4] });
  await app.close();
});

test('JSON MFCC frames: one utterance nested or flat, a batch of equal lengths; bad shapes are coded 400s', async () => {
  const asked: number[][] = [];
  const app = await server((v) => fakeSpeechModel(v, asked));
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/predict', payload: payload as Record<string, unknown> });
  const frames = (n: number) => Array.from({ length: n }, () => [0.1, 0.2, 0.3]);
  const one = await post({ tensor: frames(5) });
  assert.equal(one.statusCode, 200, one.body);
  assert.deepEqual(one.json(), { version: 7, modality: 'audio', input: 'tensor', transcript: 'two' });
  const flat = await post({ tensor: frames(6).flat() });
  assert.equal(flat.json().transcript, 'zero');
  const shaped = await post({ tensor: frames(4).flat(), shape: [4, 3] });
  assert.equal(shaped.json().transcript, 'one');
  const batch = await post({ tensor: [frames(4), frames(4)] });
  assert.equal(batch.statusCode, 200);
  assert.deepEqual(batch.json(), { version: 7, modality: 'audio', input: 'tensor', predictions: [{ transcript: 'one' }, { transcript: 'one' }] });
  assert.deepEqual(asked, [[5], [6], [4], [4, 4]]);

  const wrongWidth = await post({ tensor: [[1, 2, 3, 4], [1, 2, 3, 4]] });
  assert.equal(wrongWidth.statusCode, 400);
  assert.equal(wrongWidth.json().error.code, 'BONSAI_HTTP_BAD_TENSOR_SHAPE');
  assert.deepEqual(wrongWidth.json().error.details, { expected: ['frames', WIDTH], actual: [2, 4] });
  const ragged = await post({ tensor: [1, 2, 3, 4] });
  assert.equal(ragged.statusCode, 400);
  assert.equal(ragged.json().error.code, 'BONSAI_HTTP_BAD_TENSOR_SHAPE');
  const tooMany = await post({ tensor: Array.from({ length: 5 }, () => frames(2)) });
  assert.equal(tooMany.statusCode, 413);
  assert.equal(tooMany.json().error.code, 'BONSAI_HTTP_BATCH_TOO_LARGE');
  assert.equal(asked.length, 4, 'bad requests never reach the model');
  await app.close();
});

test('classification models still answer class scores beside speech support', async () => {
  const app = await server((v) => fakeModel(v));
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [1, 1, 1, 1] } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().label, 'dog');
  assert.equal(res.json().transcript, undefined);
  await app.close();
});

test('JSON frames of an utterance longer than the longest recording accepted are refused (413) before the model runs', async () => {
  // The daemon's own preprocessors: recordings of at most 1 s at the default 25 ms window and 10 ms hop.
  const preprocess = preprocessors(testConfig('/nonexistent-state', { model: { modality: 'audio', name: 'ds2' }, ingest: { limits: { maxAudioSeconds: 1 } } }));
  const asked: number[][] = [];
  const app = await server((v) => fakeSpeechModel(v, asked), preprocess);
  // The longest recording accepted, at a rate the pipeline resamples from, gives no more frames than the limit.
  const second = Float32Array.from({ length: 44100 }, (_, i) => 0.5 * Math.sin(i / 7));
  const features = await preprocess.audio(encodeWav(second, 44100), { version: 7, modality: 'audio', inputShape: [39] });
  assert.ok(features.shape[0] <= 98, `a 1 s recording gave ${features.shape[0]} frames`);
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/predict', payload: payload as Record<string, unknown> });
  const frames = (n: number) => Array.from({ length: n }, () => [0.1, 0.2, 0.3]);
  assert.equal((await post({ tensor: frames(98) })).statusCode, 200);
  // On the old code each was transcribed: 50,000 frames of a real ds2 held the event loop 37 s.
  for (const tensor of [frames(99), frames(5000).flat(), [frames(99), frames(99)]]) {
    const res = await post({ tensor });
    assert.equal(res.statusCode, 413, res.body);
    assert.equal(res.json().error.code, 'BONSAI_HTTP_UTTERANCE_TOO_LONG');
    assert.equal(res.json().error.details.maxFrames, 98);
    assert.equal(res.json().error.details.maxAudioSeconds, 1);
    assert.match(res.json().error.message, /an utterance of (99|5000) frames is longer than the 98 frames of the longest recording accepted \(1 s, ingest.limits.maxAudioSeconds\)/);
  }
  assert.deepEqual(asked, [[98]], 'refused utterances never reach the model');
  await app.close();
});

test('JSON frames that overflow the speech model are refused (422 BONSAI_HTTP_NON_FINITE_OUTPUT), not answered 500 as a fault', async () => {
  const errors: unknown[] = [];
  const asked: number[][] = [];
  const holder = new ModelHolder({ loader: async (v) => fakeSpeechModel(v, asked) });
  await holder.swapTo(7);
  const app = buildServer({
    holder, registry: new FakeRegistry(), metrics: createMetrics({ version: '0.0.0-test', defaultMetrics: false }),
    preprocess: { image: fakeAudio, audio: fakeAudio }, updates: { requestUpdate: async () => ({ accepted: true, state: 'started' }) },
    status: { status: () => ({}) }, onError: (err) => errors.push(err),
  });
  const frame = [0.1, 0.2, 0.3];
  // On the old code: 500 BONSAI_CORE_DECODE_NON_FINITE, reported to the error log.
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [frame, frame, [3e38, 3e38, 3e38]] } });
  assert.equal(res.statusCode, 422, res.body);
  assert.equal(res.json().error.code, 'BONSAI_HTTP_NON_FINITE_OUTPUT');
  assert.deepEqual(res.json().error.details, { version: 7, maxInputMagnitude: Math.fround(3e38) });
  const batch = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [[frame, frame], [frame, [0, -5e35, 0]]] } });
  assert.equal(batch.statusCode, 422);
  assert.match(batch.json().error.message, /scores for one of the 2 utterances, whose values reach 5\.000e\+35/);
  assert.deepEqual(errors, [], 'a client\'s input is no server fault');
  await app.close();
});
