import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDriftReference } from '../../daemon/metrics/index.ts';
import { LABELS, counterValue, expectedClass, fakeModel, harness } from './server-fakes.ts';

const png = (value: number): Buffer => Buffer.from([value, 0x50, 0x4e, 0x47]);

test('an image is decoded for the live model and answered with label, class and scores', async () => {
  const { app } = await harness();
  const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: png(1) });
  assert.equal(res.statusCode, 200);
  // 4 features of value 1: sum 4 -> class 1 ("dog").
  assert.deepEqual(res.json(), { version: 1, modality: 'image', input: 'image', label: 'dog', class: 1, scores: { cat: 0.1, dog: 0.8, eel: 0.1 } });
  const jpeg = await app.inject({ method: 'POST', url: '/v1/predict?scores=array', headers: { 'content-type': 'image/jpeg; foo=bar' }, payload: png(2) });
  assert.equal(jpeg.statusCode, 200);
  // sum 8 -> class 2
  assert.deepEqual(jpeg.json().scores, [0.1, 0.1, 0.8]);
  assert.equal(jpeg.json().label, 'eel');
});

test('WAV bodies go to the audio preprocessor under every WAV media type; an image to an audio model is refused', async () => {
  const { app } = await harness({ model: (v) => fakeModel(v, { modality: 'audio' }) });
  for (const type of ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave']) {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': type }, payload: png(1) });
    assert.equal(res.statusCode, 200, type);
    assert.equal(res.json().input, 'audio');
    assert.equal(res.json().modality, 'audio');
  }
  const image = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: png(1) });
  assert.equal(image.statusCode, 415);
  assert.equal(image.json().error.code, 'BONSAI_HTTP_WRONG_MODALITY');
  assert.deepEqual(image.json().error.details, { expected: 'audio', actual: 'image' });
});

test('JSON tensors: one sample nested, flat or squeezed; batches nested or flat rows; explicit shape', async () => {
  const { app } = await harness();
  const post = (payload: unknown, url = '/v1/predict') => app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
  const sample = [[[0.5], [0.5]], [[0.5], [0.5]]]; // sum 2 -> class 2
  const one = await post({ tensor: sample });
  assert.equal(one.statusCode, 200);
  assert.equal(one.json().input, 'tensor');
  assert.equal(one.json().class, 2);
  assert.equal((await post({ tensor: [0.25, 0.25, 0.25, 0.25] })).json().class, 1);
  assert.equal((await post({ tensor: [[0, 0], [0, 0]] })).json().class, 0);

  const rows = [[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]];
  const batch = await post({ tensor: rows });
  assert.equal(batch.statusCode, 200);
  assert.deepEqual(batch.json().predictions.map((p: { class: number }) => p.class), rows.map(expectedClass));
  assert.deepEqual(batch.json().predictions.map((p: { label: string }) => p.label), rows.map((r) => LABELS[expectedClass(r)]));
  const nested = await post({ tensor: [sample, sample] });
  assert.equal(nested.json().predictions.length, 2);
  const shaped = await post({ tensor: [1, 1, 1, 1, 0, 0, 0, 0], shape: [2, 2, 2, 1] });
  assert.deepEqual(shaped.json().predictions.map((p: { class: number }) => p.class), [1, 0]);
});

test('bad tensors answer 400 with stable codes, and the shape error names expected and actual shapes', async () => {
  const { app } = await harness({ limits: { maxBatch: 2 } });
  const post = (payload: string | Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload });
  const shape = await post({ tensor: [1, 2, 3] });
  assert.equal(shape.statusCode, 400);
  assert.equal(shape.json().error.code, 'BONSAI_HTTP_BAD_TENSOR_SHAPE');
  assert.deepEqual(shape.json().error.details, { expected: [2, 2, 1], actual: [3] });
  assert.match(shape.json().error.message, /\[3\] does not fit the model input \[2, 2, 1\]/);

  const cases: Array<[string | Record<string, unknown>, number, string]> = [
    [{ tensor: [[1, 2], [3]] }, 400, 'BONSAI_HTTP_BAD_TENSOR_SHAPE'],
    [{ tensor: [1, 'x', 3, 4] }, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    [{ tensor: [1, null, 3, 4] }, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    [{ tensor: 5 }, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    [{ tensr: [1, 2, 3, 4] }, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    [{ tensor: [1, 2, 3, 4], shape: [2, 2, 2] }, 400, 'BONSAI_HTTP_BAD_TENSOR_SHAPE'],
    [{ tensor: [1, 2, 3, 4], shape: 'x' }, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    [{ tensor: [[1, 1, 1, 1], [1, 1, 1, 1]], shape: [4, 2] }, 400, 'BONSAI_HTTP_BAD_TENSOR_SHAPE'],
    [{ tensor: [], shape: [0, 4] }, 400, 'BONSAI_HTTP_BAD_TENSOR_SHAPE'],
    [{ tensor: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]] }, 413, 'BONSAI_HTTP_BATCH_TOO_LARGE'],
    [[1, 2, 3, 4] as unknown as Record<string, unknown>, 400, 'BONSAI_HTTP_BAD_TENSOR'],
    // A small body whose first elements claim a huge shape is refused before anything is allocated.
    [{ tensor: [new Array(3000).fill(0), ...new Array(2999).fill([])] }, 413, 'BONSAI_HTTP_BATCH_TOO_LARGE'],
    ['{"tensor": [1, 2', 400, 'BONSAI_HTTP_INVALID_JSON'],
    ['', 400, 'BONSAI_HTTP_EMPTY_BODY'],
  ];
  for (const [payload, status, code] of cases) {
    const res = await post(payload);
    assert.equal(res.statusCode, status, JSON.stringify(payload));
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.json().error.code, code, JSON.stringify(payload));
    assert.equal(typeof res.json().error.message, 'string');
  }
  const ragged = await post({ tensor: [[1, 2], [3]] });
  assert.match(ragged.json().error.message, /tensor\[1\] has 1 entries, expected 2/);
  // Numbers a float32 input cannot hold: refused with the value as sent, not answered with null scores.
  for (const [text, value] of [['1e39', '1e+39'], ['-1e308', '-1e+308'], ['1e999', 'Infinity']] as const) {
    const res = await post(`{"tensor": [0, ${text}, 0, 0]}`);
    assert.equal(res.statusCode, 400, text);
    assert.equal(res.json().error.code, 'BONSAI_HTTP_BAD_TENSOR');
    assert.deepEqual(res.json().error.details, { path: '[1]', value });
    assert.match(res.json().error.message, value === 'Infinity' ? /beyond float64/ : /outside float32's range/);
  }
  assert.equal((await post('{"tensor": [0, 3.4e38, 0, 0]}')).statusCode, 200, 'the largest float32s are fine');
  // Nesting deeper than any input needs is refused before JSON.parse (which would hold the event loop).
  const deep = await post(`{"tensor": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
  assert.equal(deep.statusCode, 400);
  assert.equal(deep.json().error.code, 'BONSAI_HTTP_JSON_TOO_DEEP');
  assert.deepEqual(deep.json().error.details, { maxDepth: 34, offset: 44 });
  // Brackets inside strings do not count; valid JSON with a __proto__ key is JSON (and still not a tensor).
  assert.equal((await post(`{"tensor": [0, 0, 0, 0], "note": "${'['.repeat(100)}"}`)).json().error.code, 'BONSAI_HTTP_BAD_TENSOR');
  const proto = await post('{"__proto__": {"x": 1}, "tensor": [0, 0, 0, 0]}');
  assert.equal(proto.json().error.code, 'BONSAI_HTTP_BAD_TENSOR');
  assert.match(proto.json().error.message, /__proto__/);
  const query = await app.inject({ method: 'POST', url: '/v1/predict?scores=csv', payload: { tensor: [0, 0, 0, 0] } });
  assert.equal(query.statusCode, 400);
  assert.equal(query.json().error.code, 'BONSAI_HTTP_BAD_REQUEST');
});

test('unsupported media types answer 415, oversized bodies 413, empty bodies 400', async () => {
  const { app } = await harness({ limits: { bodyLimitBytes: 1024 } });
  for (const type of ['text/plain', 'application/octet-stream', 'audio/mpeg', 'multipart/form-data; boundary=x']) {
    const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': type }, payload: 'hello' });
    assert.equal(res.statusCode, 415, type);
    assert.equal(res.json().error.code, 'BONSAI_HTTP_UNSUPPORTED_MEDIA_TYPE');
    assert.equal(res.json().error.details.contentType, type);
  }
  const big = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(2048, 1) });
  assert.equal(big.statusCode, 413);
  assert.equal(big.json().error.code, 'BONSAI_HTTP_BODY_TOO_LARGE');
  assert.equal(big.json().error.details.limitBytes, 1024);
  const bigJson = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: new Array(600).fill(0) } });
  assert.equal(bigJson.statusCode, 413);
  const empty = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(0) });
  assert.equal(empty.statusCode, 400);
  assert.equal(empty.json().error.code, 'BONSAI_HTTP_EMPTY_BODY');
  const none = await app.inject({ method: 'POST', url: '/v1/predict' });
  assert.equal(none.statusCode, 400);
  assert.equal(none.json().error.code, 'BONSAI_HTTP_EMPTY_BODY');
});

test('no model yet answers 503 with Retry-After, a state the client retries and not a fault for the error log', async () => {
  const { app, errors } = await harness({ initialVersion: null });
  const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: png(1) });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.json().error.code, 'BONSAI_HTTP_NO_MODEL');
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
  assert.deepEqual(errors, [], 'onError (logged at error level) is for 500s');
});

test('preprocessing errors keep their code (422); crashes and broken models are 500s reported to onError', async () => {
  const h = await harness();
  const bad = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.from('BAD image') });
  assert.equal(bad.statusCode, 422);
  assert.deepEqual(bad.json().error, { code: 'BONSAI_INGEST_IMAGE_CORRUPT', message: 'image is corrupt: bad header', details: { bytes: 9 } });
  const wide = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.from('WIDE') });
  assert.equal(wide.statusCode, 422);
  assert.equal(wide.json().error.code, 'BONSAI_HTTP_INPUT_SHAPE_MISMATCH');
  assert.deepEqual(wide.json().error.details, { expected: [2, 2, 1], actual: [2, 4, 1] });
  assert.deepEqual(h.errors, []);
  // A decode that timed out behind a queue of others: the server is overloaded (503, retry), the image is not bad.
  const busy = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.from('BUSY') });
  assert.equal(busy.statusCode, 503);
  assert.equal(busy.headers['retry-after'], '1');
  assert.equal(busy.json().error.code, 'BONSAI_INGEST_IMAGE_TIMEOUT');
  assert.equal(busy.json().error.details.queued, 40);
  assert.deepEqual(h.errors, []);
  const crash = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.from('CRASH') });
  assert.equal(crash.statusCode, 500);
  assert.deepEqual(crash.json(), { error: { code: 'BONSAI_HTTP_INTERNAL', message: 'internal error; see the daemon log' } });
  assert.equal((h.errors[0] as Error).message, 'decoder crashed');

  const broken = await harness({ model: (v) => fakeModel(v, { brokenOutput: 5 }) });
  const res = await broken.app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0, 0, 0, 0] } });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().error.code, 'BONSAI_HTTP_MODEL_OUTPUT');
  assert.equal(broken.errors.length, 1);
  // The lease was released despite the error: a swap disposes the old model at once.
  const old = broken.holder.acquire().model as ReturnType<typeof fakeModel>;
  assert.equal(broken.holder.status().inFlight, 1);
  await broken.holder.swapTo(2);
  assert.equal(old.disposed, 0);
});

test('predict requests are counted by status code and timed; unknown routes are JSON 404s', async () => {
  const { app, metrics } = await harness({ limits: { bodyLimitBytes: 64 } });
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0, 0, 0, 0] } });
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0, 0, 0, 0] } });
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0] } });
  await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'text/csv' }, payload: '1,2' });
  await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(100) });
  assert.equal(await counterValue(metrics.predictRequests, { code: '200' }), 2);
  assert.equal(await counterValue(metrics.predictRequests, { code: '400' }), 1);
  assert.equal(await counterValue(metrics.predictRequests, { code: '415' }), 1);
  assert.equal(await counterValue(metrics.predictRequests, { code: '413' }), 1);
  const hist = await metrics.predictDuration.get();
  assert.equal(hist.values.find((v) => v.metricName === 'bonsai_predict_duration_seconds_count')?.value, 5);

  const missing = await app.inject({ method: 'GET', url: '/v2/nothing?x=1' });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { error: { code: 'BONSAI_HTTP_NOT_FOUND', message: 'no route GET /v2/nothing' } });
  const wrongMethod = await app.inject({ method: 'GET', url: '/v1/predict' });
  assert.equal(wrongMethod.statusCode, 404);
});

test('served predictions feed the prediction-class ratios and drift scores on /metrics', async () => {
  // Reference: training inputs all near 0, labels balanced.
  const n = 60;
  const reference = buildDriftReference({ batch: Float32Array.from({ length: n * 4 }, (_, i) => (i % 7) / 100), n, sampleSize: 4 }, Array.from({ length: n }, (_, i) => i % 3), 3);
  const { app } = await harness({ model: (v) => fakeModel(v, { driftReference: reference }) });
  // 100 requests with inputs far from the reference, all predicted "dog" (sum 4).
  const rows = Array.from({ length: 100 }, () => [1, 1, 1, 1]);
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: rows } });
  assert.equal(res.statusCode, 200);
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /bonsai_prediction_class_ratio\{class="dog"\} 1\n/);
  assert.match(text, /bonsai_prediction_class_ratio\{class="cat"\} 0\n/);
  const js = /bonsai_drift_score\{method="js",scope="prediction"\} ([0-9.e-]+)/.exec(text);
  // All "dog" vs (1/3, 1/3, 1/3): 0.5 log2(1.5) + 1/6.
  assert.ok(js !== null);
  assert.ok(Math.abs(Number(js[1]) - (0.5 * Math.log2(1.5) + 1 / 6)) < 1e-9, js[1]);
  const psiInput = /bonsai_drift_score\{method="psi",scope="input_mean"\} ([0-9.e-]+)/.exec(text);
  assert.ok(psiInput !== null && Number(psiInput[1]) > 1, psiInput?.[1]);
});

test('measureServerOverhead answers every request through the server and reports latencies above the model time', async () => {
  const { measureServerOverhead } = await import('../../daemon/server/index.ts');
  const r = await measureServerOverhead({ concurrency: 4, requests: 40, warmup: 4, modelMs: 1, inputShape: [4] });
  assert.equal(r.requests, 40);
  // A 1 ms timer never fires in under 1 ms.
  assert.ok(r.server.p50Ms >= 1 && r.direct.p50Ms >= 1, JSON.stringify(r));
  assert.ok(r.server.p99Ms >= r.server.p50Ms);
  assert.ok(r.server.requestsPerSecond > 0 && r.direct.requestsPerSecond > 0);
});

test('a JSON tensor nested 20,000 deep answers 400 before parsing, with where it gets too deep; 32 axes are refused by shape', async () => {
  const { app } = await harness();
  const deep = `{"tensor": ${'['.repeat(20_000)}0${']'.repeat(20_000)}}`;
  const res = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload: deep });
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error.code, 'BONSAI_HTTP_JSON_TOO_DEEP');
  assert.deepEqual(res.json().error.details, { maxDepth: 34, offset: 44 });
  assert.match(res.json().error.message, /more than 34 levels deep \(level 35 opens at character 44\)/);
  // Within the JSON limit, a tensor with more axes than any input is still refused by its shape.
  const many = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload: `{"tensor": ${'['.repeat(33)}0${']'.repeat(33)}}` });
  assert.equal(many.json().error.code, 'BONSAI_HTTP_BAD_TENSOR_SHAPE');
  assert.deepEqual([many.json().error.details.axes, many.json().error.details.maxAxes], [33, 32]);
  // The server keeps answering.
  assert.equal((await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0, 0, 0, 0] } })).statusCode, 200);
});

test('scores=array answers the label of each class index, so a client can map the list to labels', async () => {
  const { app } = await harness();
  const one = await app.inject({ method: 'POST', url: '/v1/predict?scores=array', payload: { tensor: [0.5, 0.5, 0.5, 0.5] } });
  assert.equal(one.statusCode, 200);
  assert.deepEqual(one.json().labels, ['cat', 'dog', 'eel']);
  assert.equal(one.json().labels[one.json().class], one.json().label);
  const batch = await app.inject({ method: 'POST', url: '/v1/predict?scores=array', payload: { tensor: [[1, 1, 1, 0], [0, 0, 0, 0]] } });
  assert.deepEqual(batch.json().labels, ['cat', 'dog', 'eel']);
  assert.equal(batch.json().predictions[0].label, batch.json().labels[batch.json().predictions[0].class]);
  // With scores as an object the labels are its keys; the answer stays as it was.
  const keyed = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0.5, 0.5, 0.5, 0.5] } });
  assert.equal(keyed.json().labels, undefined);
});

test('a refused tensor body is quoted in excerpts: long keys, values and shapes are cut, many unknown keys counted', async () => {
  const { app } = await harness({ limits: { bodyLimitBytes: 16 * 1024 * 1024 } });
  const post = (payload: string) => app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload });
  const long = 'a'.repeat(1_000_000);
  const cases: Array<[string, string, string, RegExp]> = [
    // 200,000 unknown keys (a 2.6 MB body): answered 5.2 MB, naming every key.
    ['many keys', `{${Array.from({ length: 200_000 }, (_, i) => `"k${i}":1`).join(',')}}`, 'BONSAI_HTTP_BAD_TENSOR', /unknown key\(s\) "k0", "k1", "k2", "k3", "k4" and 199995 more; allowed/],
    ['a long key', `{"${long}":1}`, 'BONSAI_HTTP_BAD_TENSOR', /unknown key\(s\) "a{80}\.\.\." \(1000000 characters\); allowed/],
    // A string of backslashes is answered escaped twice over: four times the request's size.
    ['a long string value', `{"tensor":["${'\\\\'.repeat(500_000)}",0,0,0]}`, 'BONSAI_HTTP_BAD_TENSOR', /tensor\[0\] is "(\\\\){80}\.\.\." \(500000 characters\), not a finite number/],
    ['a long object value', `{"tensor":[0,{"x":"${long}"},0,0]}`, 'BONSAI_HTTP_BAD_TENSOR', /tensor\[1\] is \{"x":"a{74}\.\.\. \(1000008 characters\), not/],
    ['a shape of 300,000 axes', JSON.stringify({ tensor: [0, 0, 0, 0], shape: [4, ...new Array(300_000).fill(1)] }), 'BONSAI_HTTP_BAD_TENSOR', /"shape" must be an array of 1 to 32 non-negative integers, got \[4,1,1,.*\.\.\. \(600003 characters\)/],
  ];
  for (const [what, payload, code, message] of cases) {
    const res = await post(payload);
    assert.equal(res.statusCode, 400, what);
    assert.equal(res.json().error.code, code, what);
    assert.match(res.json().error.message, message, what);
    assert.ok(res.body.length < 1000, `${what}: answered ${res.body.length} bytes`);
  }
  const keys = await post('{"a":1,"b":2,"tensor":[0,0,0,0]}');
  assert.deepEqual(keys.json().error.details, { unknownKeys: ['"a"', '"b"'], unknownCount: 2 });
  const shape = await post(JSON.stringify({ tensor: [0, 0, 0, 0], shape: new Array(33).fill(1) }));
  assert.deepEqual(shape.json().error.details, { shape: `[${new Array(33).fill(1).join(',')}]`, axes: 33, maxAxes: 32 });
  assert.equal((await post(JSON.stringify({ tensor: [0, 0, 0, 0], shape: [...new Array(29).fill(1), 2, 2, 1] }))).statusCode, 200, '32 axes are still a shape');
});

test('scores that overflow to NaN are refused (422 BONSAI_HTTP_NON_FINITE_OUTPUT), not answered as a label picked from nulls', async () => {
  const { app } = await harness({ model: (v) => fakeModel(v, { overflowAbove: 1e30 }) });
  const post = (tensor: unknown) => app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor } as Record<string, unknown> });
  // On the old code: 200 {"label":"cat","scores":{"cat":null,"dog":null,"eel":null}}.
  const one = await post([3e38, 3e38, -3e38, 0]);
  assert.equal(one.statusCode, 422, one.body);
  assert.equal(one.json().error.code, 'BONSAI_HTTP_NON_FINITE_OUTPUT');
  assert.deepEqual(one.json().error.details, { version: 1, sample: 0, maxInputMagnitude: Math.fround(3e38) });
  assert.match(one.json().error.message, /model 1 computed NaN or infinite scores for the sample, whose values reach 3\.000e\+38 in magnitude/);
  const batch = await post([[0, 0, 0, 1], [0, 2e31, 0, 0]]);
  assert.equal(batch.statusCode, 422);
  assert.equal(batch.json().error.details.sample, 1);
  assert.match(batch.json().error.message, /scores for sample 1, whose values reach 2\.000e\+31/);
  assert.equal((await post([0, 0, 0, 1])).statusCode, 200, 'values the model computes with are answered');
  // Refused samples are left out of the served predictions' classes: only the one answered counts.
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(text, /bonsai_prediction_class_ratio\{class="cat"\} 0\n/);
});

test('a model whose scores are NaN even for zeros is the server\'s fault: 500 BONSAI_HTTP_MODEL_OUTPUT, reported, not a 422 that blames the input', async () => {
  // Diverged or damaged weights: every sample overflows, an input of zeros too.
  const { app, errors } = await harness({ model: (v) => fakeModel(v, { overflowAbove: -1 }) });
  const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0.5, 0.25, 0, 1] } });
  assert.equal(res.statusCode, 500, res.body);
  assert.equal(res.json().error.code, 'BONSAI_HTTP_MODEL_OUTPUT');
  assert.deepEqual(res.json().error.details, { version: 1, nonFinite: true });
  assert.match(res.json().error.message, /model 1 computes NaN or infinite scores even for an input of zeros: its weights are broken; roll back/);
  assert.equal(errors.length, 1, 'reported (http.error, the 5xx metrics)');
});

test('the check on zeros runs once per model, and a check that fails says so instead of blaming the weights', async () => {
  let calls = 0;
  const { app } = await harness({
    model: (v) => {
      const m = fakeModel(v, { overflowAbove: -1 });
      const predict = m.predict.bind(m);
      m.predict = (batch, n) => {
        calls++;
        return predict(batch, n);
      };
      return m;
    },
  });
  const answers = await Promise.all(Array.from({ length: 8 }, () => app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0.5, 0.25, 0, 1] } })));
  assert.deepEqual(answers.map((a) => a.statusCode), new Array(8).fill(500));
  const passes = calls;
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0.5, 0.25, 0, 1] } });
  assert.equal(calls, passes + 1, 'a later request runs only its own pass: the check on zeros is not repeated');
  assert.ok(passes <= 8 + 1, `${passes} passes for 8 requests (one check on zeros)`);

  const failing = await harness({
    model: (v) => {
      const m = fakeModel(v, { overflowAbove: -1 });
      const predict = m.predict.bind(m);
      m.predict = (batch, n) => (batch.every((x) => x === 0) ? Promise.reject(new Error('backend out of memory')) : predict(batch, n));
      return m;
    },
  });
  const res = await failing.app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0.5, 0.25, 0, 1] } });
  assert.equal(res.statusCode, 500);
  assert.match(res.json().error.message, /running it on an input of zeros to tell whether its weights are broken failed: backend out of memory/);
  assert.doesNotMatch(res.json().error.message, /weights are broken; roll back/);
});
