/** Server-side batching of POST /v1/predict: concurrent requests share forward passes, each gets its own answer, failures stay its own. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedModel } from '../../daemon/serving/index.ts';
import { fakeModel, harness } from './server-fakes.ts';

const png = (value: number): Buffer => Buffer.from([value, 0x50, 0x4e, 0x47]);

/** A fake model that counts its forward passes and the samples of each; a sample whose values are all 13 makes the pass throw. */
function countingModel(version: number): LoadedModel & { passes: number[] } {
  const inner = fakeModel(version);
  const model = {
    ...inner,
    passes: [] as number[],
    async predict(batch: Float32Array, n: number): Promise<Float32Array> {
      model.passes.push(n);
      for (let i = 0; i < n; i++) if (batch.subarray(i * 4, (i + 1) * 4).every((v) => v === 13)) throw new Error('poisoned sample');
      return inner.predict(batch, n);
    },
  };
  return model;
}

async function served(batching?: { maxBatchSize: number; maxDelayMs: number }) {
  let model: (LoadedModel & { passes: number[] }) | null = null;
  const h = await harness({ batching, model: (v) => (model = countingModel(v)) });
  return { ...h, model: model as unknown as LoadedModel & { passes: number[] } };
}

const predict = (app: Awaited<ReturnType<typeof served>>['app'], value: number) =>
  app.inject({ method: 'POST', url: '/v1/predict?scores=array', headers: { 'content-type': 'image/png' }, payload: png(value) });

test('16 concurrent requests get the same answers as sequential ones, in fewer forward passes', async () => {
  const { app, model } = await served({ maxBatchSize: 32, maxDelayMs: 50 });
  const values = Array.from({ length: 16 }, (_, i) => i % 7);
  const sequential = [];
  for (const v of values) sequential.push((await predict(app, v)).json());
  assert.equal(model.passes.length, 16);
  model.passes.length = 0;
  const concurrent = await Promise.all(values.map((v) => predict(app, v)));
  assert.deepEqual(concurrent.map((r) => r.statusCode), values.map(() => 200));
  assert.deepEqual(concurrent.map((r) => r.json()), sequential);
  assert.ok(model.passes.length < 16, `16 requests took ${model.passes.length} forward passes`);
  assert.equal(model.passes.reduce((a, b) => a + b, 0), 16);
  await app.close();
});

test('maxBatchSize 1 turns batching off: one forward pass per request', async () => {
  const { app, model } = await served({ maxBatchSize: 1, maxDelayMs: 50 });
  const res = await Promise.all([1, 2, 3, 4].map((v) => predict(app, v)));
  assert.deepEqual(res.map((r) => r.statusCode), [200, 200, 200, 200]);
  assert.deepEqual(model.passes, [1, 1, 1, 1]);
  await app.close();
});

test('a batch is cut at maxBatchSize samples, and a JSON batch as large runs alone', async () => {
  const { app, model } = await served({ maxBatchSize: 4, maxDelayMs: 50 });
  const res = await Promise.all([1, 2, 3, 4, 5, 6].map((v) => predict(app, v)));
  assert.deepEqual(res.map((r) => r.json().class), [1, 2, 3, 4, 5, 6].map((v) => (4 * v) % 3));
  assert.ok(model.passes.every((n) => n <= 4), `passes ${model.passes.join(', ')}`);
  model.passes.length = 0;
  const big = await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: Array.from({ length: 5 }, () => [0.25, 0.25, 0.25, 0.25]) } });
  assert.equal(big.statusCode, 200);
  assert.equal(big.json().predictions.length, 5);
  assert.deepEqual(model.passes, [5]);
  await app.close();
});

test('a request that makes the merged pass fail fails alone; the others of its batch are answered', async () => {
  const { app, model } = await served({ maxBatchSize: 32, maxDelayMs: 50 });
  const values = [1, 2, 13, 4, 5];
  const res = await Promise.all(values.map((v) => predict(app, v)));
  assert.deepEqual(res.map((r) => r.statusCode), [200, 200, 500, 200, 200]);
  assert.deepEqual(res.filter((r) => r.statusCode === 200).map((r) => r.json().class), [1, 2, 4, 5].map((v) => (4 * v) % 3));
  // One merged attempt, then each request alone.
  assert.ok(model.passes.length >= values.length, `passes ${model.passes.join(', ')}`);
  await app.close();
});

test('one client alone does not wait for the time budget', async () => {
  const { app } = await served({ maxBatchSize: 32, maxDelayMs: 5000 });
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) assert.equal((await predict(app, i)).statusCode, 200);
  assert.ok(performance.now() - t0 < 2000, `5 sequential requests took ${Math.round(performance.now() - t0)} ms`);
  await app.close();
});
