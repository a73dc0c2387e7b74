import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { parseConfig } from '../../config/index.ts';
import { authorize, bearerToken, tokensEqual } from '../../daemon/auth.ts';
import { readToken } from '../../daemon/wiring.ts';
import { fakeModel, harness } from './server-fakes.ts';

const TOKEN = 's3cret-token';
const auth = { authorization: `Bearer ${TOKEN}` };

test('bearer tokens: parsing, constant-time comparison, verdicts', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), null);
  assert.equal(bearerToken('Bearer a b'), null);
  assert.equal(bearerToken(undefined), null);
  assert.equal(tokensEqual('abc', 'abc'), true);
  assert.equal(tokensEqual('abc', 'abd'), false);
  assert.equal(tokensEqual('abc', 'abcd'), false);
  assert.deepEqual(authorize('Bearer x', undefined), { ok: false, reason: 'disabled' });
  assert.deepEqual(authorize('Bearer x', ''), { ok: false, reason: 'disabled' });
  assert.deepEqual(authorize(undefined, 'x'), { ok: false, reason: 'missing' });
  assert.deepEqual(authorize('Token x', 'x'), { ok: false, reason: 'malformed' });
  assert.deepEqual(authorize('Bearer y', 'x'), { ok: false, reason: 'mismatch' });
  assert.deepEqual(authorize('Bearer x', 'x'), { ok: true });
});

test('a token with whitespace inside, which no request could present, is refused when read', () => {
  const refused = (fn: () => unknown, ...needles: string[]): void => assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_TOKEN_INVALID', String(e));
    for (const n of needles) assert.ok(e.message.includes(n), e.message);
    assert.ok(!e.message.includes('horse'), 'the message never holds the token');
    return true;
  });
  const config = parseConfig({});
  // It was accepted, and then no Authorization header could match it: every mutating request was 401.
  assert.equal(bearerToken('Bearer correct horse battery staple'), null);
  refused(() => readToken(config, { BONSAI_TOKEN: 'correct horse battery staple' }), 'environment variable BONSAI_TOKEN', 'character 8 of 28');
  refused(() => readToken(config, { BONSAI_TOKEN: 'correct\thorse' }), 'character 8');
  assert.equal(readToken(config, { BONSAI_TOKEN: '  s3cret-token\n' }), 's3cret-token', 'surrounding whitespace is dropped');
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-token-'));
  try {
    const file = join(dir, 'token');
    const fromFile = parseConfig({ server: { tokenFile: file } });
    writeFileSync(file, 'correct horse\n');
    refused(() => readToken(fromFile, {}), `file ${file}`);
    writeFileSync(file, `${TOKEN}\n`);
    assert.equal(readToken(fromFile, {}), TOKEN);
    assert.deepEqual(authorize(auth.authorization, readToken(fromFile, {})), { ok: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mutating routes are 403 without a configured token, with a message saying how to set one', async () => {
  const { app, loads } = await harness();
  for (const url of ['/v1/models/2/promote', '/v1/rollback', '/v1/updates']) {
    const res = await app.inject({ method: 'POST', url, headers: auth });
    assert.equal(res.statusCode, 403, url);
    assert.equal(res.json().error.code, 'BONSAI_HTTP_MUTATIONS_DISABLED');
    assert.match(res.json().error.message, /BONSAI_TOKEN/);
  }
  assert.deepEqual(loads, [1]);
});

test('mutating routes need the right bearer token (401 with WWW-Authenticate otherwise)', async () => {
  const { app, registry, updateReasons } = await harness({ token: TOKEN });
  const headers: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }];
  for (const h of headers) {
    for (const url of ['/v1/models/2/promote', '/v1/rollback', '/v1/updates']) {
      const res = await app.inject({ method: 'POST', url, headers: h });
      assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(h)}`);
      assert.equal(res.json().error.code, 'BONSAI_HTTP_UNAUTHORIZED');
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="bonsai"');
    }
  }
  assert.equal(registry.current, 1);
  assert.deepEqual(updateReasons, []);
  // Read-only routes need no token.
  assert.equal((await app.inject({ method: 'GET', url: '/v1/models' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/status' })).statusCode, 200);
});

test('GET /v1/models lists the registry and what is served', async () => {
  const { app } = await harness();
  const res = await app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    serving: 1,
    labels: ['cat', 'dog', 'eel'],
    current: 1,
    previous: null,
    versions: [1, 2, 3].map((version) => ({ version, createdAt: `2026-01-0${version}T00:00:00Z` })),
  });
  const empty = await harness({ initialVersion: null });
  assert.equal((await empty.app.inject({ method: 'GET', url: '/v1/models' })).json().labels, null);
});

test('promote loads and warms the version, swaps, then records it; rollback returns to the previous one', async () => {
  const { app, holder, registry } = await harness({ token: TOKEN });
  const res = await app.inject({ method: 'POST', url: '/v1/models/2/promote', headers: auth });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.version, 2);
  assert.equal(body.previousVersion, 1);
  assert.equal(body.swap.outcome, 'ok');
  assert.deepEqual(body.registry, { version: 2, at: '2026-01-09T00:00:00Z' });
  assert.equal(holder.version, 2);
  assert.equal(registry.current, 2);
  assert.equal((await app.inject({ method: 'GET', url: '/v1/models' })).json().previous, 1);

  const again = await app.inject({ method: 'POST', url: '/v1/models/2/promote', headers: auth });
  assert.equal(again.json().swap.outcome, 'unchanged');

  const back = await app.inject({ method: 'POST', url: '/v1/rollback', headers: auth });
  assert.equal(back.statusCode, 200);
  assert.equal(back.json().version, 1);
  assert.equal(back.json().previousVersion, 2);
  assert.equal(holder.version, 1);
  assert.equal(registry.current, 1);
});

test('promote errors: bad version 400, unknown 404, failed load 500 with the old model still serving', async () => {
  const { app, holder, registry, errors } = await harness({ token: TOKEN });
  const bad = await app.inject({ method: 'POST', url: '/v1/models/v2/promote', headers: auth });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'BONSAI_HTTP_BAD_VERSION');
  const unknown = await app.inject({ method: 'POST', url: '/v1/models/9/promote', headers: auth });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error.code, 'BONSAI_HTTP_MODEL_NOT_FOUND');
  assert.deepEqual(unknown.json().error.details, { version: 9, available: [1, 2, 3] });

  const failed = await app.inject({ method: 'POST', url: '/v1/models/3/promote', headers: auth });
  assert.equal(failed.statusCode, 500);
  assert.equal(failed.json().error.code, 'BONSAI_HTTP_SWAP_FAILED');
  assert.equal(failed.json().error.details.causeCode, 'BONSAI_REGISTRY_BAD_ARTIFACT');
  assert.match(failed.json().error.message, /truncated; version 1 keeps serving/);
  assert.equal(holder.version, 1);
  assert.equal(registry.current, 1);
  assert.equal(errors.length, 1);
});

test('when the registry refuses a promotion, the previously served model is put back', async () => {
  const { app, holder, registry } = await harness({ token: TOKEN });
  registry.promoteFails = true;
  const res = await app.inject({ method: 'POST', url: '/v1/models/2/promote', headers: auth });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().error.code, 'BONSAI_REGISTRY_PUBLISH_FAILED');
  assert.equal(holder.version, 1);
  assert.equal(registry.current, 1);
});

test('rollback without a previous version answers 409', async () => {
  const { app } = await harness({ token: TOKEN });
  const res = await app.inject({ method: 'POST', url: '/v1/rollback', headers: auth });
  assert.equal(res.statusCode, 409);
  assert.equal(res.json().error.code, 'BONSAI_HTTP_NO_PREVIOUS_VERSION');
});

test('POST /v1/updates passes the reason to the trigger and answers 202, or 409 when refused', async () => {
  const h = await harness({ token: TOKEN });
  const plain = await h.app.inject({ method: 'POST', url: '/v1/updates', headers: auth });
  assert.equal(plain.statusCode, 202);
  assert.deepEqual(plain.json(), { accepted: true, state: 'started', id: 'u-1' });
  const why = await h.app.inject({ method: 'POST', url: '/v1/updates', headers: auth, payload: { reason: 'new labels' } });
  assert.equal(why.statusCode, 202);
  assert.deepEqual(h.updateReasons, ['manual', 'new labels']);
  for (const payload of [{ reason: 5 }, { reason: '' }, { why: 'x' }, ['x']]) {
    const res = await h.app.inject({ method: 'POST', url: '/v1/updates', headers: auth, payload: payload as Record<string, unknown> });
    assert.equal(res.statusCode, 400, JSON.stringify(payload));
    assert.equal(res.json().error.code, 'BONSAI_HTTP_BAD_REQUEST');
  }
  const image = await h.app.inject({ method: 'POST', url: '/v1/updates', headers: { ...auth, 'content-type': 'image/png' }, payload: Buffer.from('x') });
  assert.equal(image.statusCode, 415);

  const busy = await harness({ token: TOKEN, update: { accepted: false, state: 'no-pending-samples', message: 'no new samples since the last update' } });
  const res = await busy.app.inject({ method: 'POST', url: '/v1/updates', headers: auth });
  assert.equal(res.statusCode, 409);
  assert.deepEqual(res.json().error, { code: 'BONSAI_HTTP_UPDATE_REFUSED', message: 'no new samples since the last update', details: { state: 'no-pending-samples' } });
});

test('probes: /healthz always, /readyz 503 until a model is warm; /v1/status merges daemon and serving state', async () => {
  const h = await harness({ initialVersion: null });
  assert.deepEqual((await h.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
  const notReady = await h.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(notReady.statusCode, 503);
  assert.equal(notReady.json().error.code, 'BONSAI_HTTP_NOT_READY');
  assert.match(notReady.json().error.message, /no model is loaded/);
  await h.holder.swapTo(2);
  const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready', version: 2 });
  const status = (await h.app.inject({ method: 'GET', url: '/v1/status' })).json();
  assert.equal(status.pendingSamples, 12);
  assert.deepEqual(status.update, { state: 'idle' });
  assert.equal(status.serving.version, 2);
  assert.deepEqual(status.serving.swaps, { ok: 1, failed: 0 });
  assert.equal(typeof status.uptimeSeconds, 'number');
  await h.holder.close();
  const closing = await h.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(closing.statusCode, 503);
  assert.match(closing.json().error.message, /shutting down/);
});

test('requests in flight across promotions and rollbacks over HTTP all succeed', async () => {
  const { app, holder } = await harness({ token: TOKEN, model: (v) => fakeModel(v, { predictDelayMs: 2 }) });
  const predictions = Array.from({ length: 200 }, (_, i) =>
    app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [i % 2, 0, 0, 0] } }),
  );
  const admin = (async () => {
    const codes: number[] = [];
    for (let k = 0; k < 6; k++) {
      codes.push((await app.inject({ method: 'POST', url: '/v1/models/2/promote', headers: auth })).statusCode);
      codes.push((await app.inject({ method: 'POST', url: '/v1/rollback', headers: auth })).statusCode);
    }
    return codes;
  })();
  const results = await Promise.all(predictions);
  assert.deepEqual(results.map((r) => r.statusCode).filter((c) => c !== 200), []);
  results.forEach((r, i) => assert.equal(r.json().class, i % 2));
  assert.deepEqual(await admin, new Array(12).fill(200));
  assert.equal(holder.version, 1);
  assert.deepEqual(holder.status().draining, []);
});
