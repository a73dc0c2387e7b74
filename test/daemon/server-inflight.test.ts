import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BonsaiError } from '../../core/errors.ts';
import { parseConfig } from '../../config/index.ts';
import { fakeModel, harness, type Harness } from './server-fakes.ts';

// The cap holds one 500 kB body, not two; a body may be 600 kB.
const LIMITS = { bodyLimitBytes: 600_000, maxInflightBodyBytes: 900_000 };
const BIG = 500_000;

/** An image body of `n` bytes (the fake preprocessor reads its first byte). */
function image(n: number): Buffer {
  return Buffer.alloc(n, 1);
}

async function predict(h: Harness, bytes: number): Promise<Awaited<ReturnType<Harness['app']['inject']>>> {
  return await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: image(bytes) });
}

async function inflight(h: Harness): Promise<number> {
  const { values } = await h.metrics.httpInflightBodyBytes.get();
  return values[0]?.value ?? Number.NaN;
}

/** Resolves when `check` holds, or fails after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a body that would pass the in-flight cap is answered 503 BONSAI_HTTP_BUSY with Retry-After; small ones and GETs proceed', async () => {
  const h = await harness({ limits: LIMITS, model: (v) => fakeModel(v, { predictDelayMs: 400 }) });
  try {
    const first = predict(h, BIG);
    await until(async () => (await inflight(h)) === BIG, 'the first body to be reserved');
    const [refused, small, health] = await Promise.all([predict(h, BIG), predict(h, 1_000), h.app.inject({ method: 'GET', url: '/healthz' })]);
    assert.equal(refused.statusCode, 503, refused.body);
    assert.equal(refused.headers['retry-after'], '1');
    const body = refused.json() as { error: { code: string; details: Record<string, number> } };
    assert.equal(body.error.code, 'BONSAI_HTTP_BUSY');
    assert.deepEqual(body.error.details, { inflightBytes: BIG, capBytes: LIMITS.maxInflightBodyBytes, requestBytes: BIG });
    assert.equal(small.statusCode, 200, small.body);
    assert.equal(health.statusCode, 200);
    assert.equal((await first).statusCode, 200);
    assert.equal(await inflight(h), 0);
    // With the first answered, the same body is taken.
    assert.equal((await predict(h, BIG)).statusCode, 200);
    assert.equal(await inflight(h), 0);
    assert.deepEqual(h.errors, [], 'a 503 BUSY is not reported as a fault');
  } finally {
    await h.app.close();
  }
});

test('after many completed, refused and failed requests the in-flight total is back to 0', async () => {
  const h = await harness({ limits: LIMITS, token: 't', model: (v) => fakeModel(v, { predictDelayMs: 50 }) });
  try {
    const requests = [];
    for (let i = 0; i < 30; i += 1) {
      requests.push(predict(h, BIG));
      requests.push(h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'application/json' }, payload: '{"tensor": [1, 2,' }));
      requests.push(h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'text/csv' }, payload: 'a,b' }));
      requests.push(h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: image(700_000) }));
      requests.push(h.app.inject({ method: 'POST', url: '/v1/updates', headers: { 'content-type': 'application/json' }, payload: '{}' }));
    }
    const codes = new Map<number, number>();
    for (const res of await Promise.all(requests)) codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1);
    assert.ok((codes.get(503) ?? 0) > 0, `some were refused: ${JSON.stringify([...codes])}`);
    assert.ok((codes.get(200) ?? 0) > 0, `some were answered: ${JSON.stringify([...codes])}`);
    assert.equal(codes.get(413), 30);
    assert.equal(await inflight(h), 0);
  } finally {
    await h.app.close();
  }
});

/** A raw connection that sent `head` and part of a body, and is left hanging. */
async function hang(port: number, head: string, part: Buffer): Promise<{ socket: Socket; data: () => string }> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (b) => { received += b.toString('utf8'); });
  socket.on('error', () => { /* closed by either side */ });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(head);
  socket.write(part);
  return { socket, data: () => received };
}

test('aborted uploads release their bytes; a chunked body counts as the route\'s body limit', async () => {
  const h = await harness({ limits: LIMITS });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (h.app.server.address() as AddressInfo).port;
  try {
    const sized = await hang(port, `POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${BIG}\r\n\r\n`, image(1_000));
    await until(async () => (await inflight(h)) === BIG, 'the sized upload to be reserved');
    const refused = await fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image(BIG) });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'BONSAI_HTTP_BUSY');
    sized.socket.destroy();
    await until(async () => (await inflight(h)) === 0, 'the aborted upload to be released');

    const chunked = await hang(port, 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n', Buffer.from('4\r\nabcd\r\n'));
    await until(async () => (await inflight(h)) === LIMITS.bodyLimitBytes, 'the chunked upload to be reserved at the body limit');
    const busy = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: image(BIG) });
    assert.equal(busy.statusCode, 503);
    assert.equal((busy.json() as { error: { details: { requestBytes: number; inflightBytes: number } } }).error.details.inflightBytes, LIMITS.bodyLimitBytes);
    chunked.socket.destroy();
    await until(async () => (await inflight(h)) === 0, 'the aborted chunked upload to be released');

    const ok = await fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image(BIG) });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    assert.equal(await inflight(h), 0);
  } finally {
    await h.app.close();
  }
});

test('server.maxInflightBodyBytes defaults to 256 MiB and must be a positive integer of at least server.bodyLimitBytes', () => {
  assert.equal(parseConfig({}).server.maxInflightBodyBytes, 256 * 1024 * 1024);
  assert.equal(parseConfig({ server: { maxInflightBodyBytes: 32 * 1024 * 1024 } }).server.maxInflightBodyBytes, 32 * 1024 * 1024);
  const refuses = (server: Record<string, unknown>, text: string): void => {
    assert.throws(() => parseConfig({ server }), (err: unknown) => {
      assert.ok(err instanceof BonsaiError);
      assert.equal(err.code, 'BONSAI_CONFIG_INVALID');
      assert.match(err.message, /server\.maxInflightBodyBytes/);
      assert.ok(err.message.includes(text), err.message);
      return true;
    });
  };
  refuses({ maxInflightBodyBytes: 0 }, 'maxInflightBodyBytes');
  refuses({ maxInflightBodyBytes: 1.5 }, 'maxInflightBodyBytes');
  refuses({ maxInflightBodyBytes: 'lots' }, 'maxInflightBodyBytes');
  refuses({ maxInflightBodyBytes: 1024 * 1024 }, 'must be >= server.bodyLimitBytes (16777216)');
  refuses({ bodyLimitBytes: 512 * 1024 * 1024 }, 'must be >= server.bodyLimitBytes (536870912)');
});
