/** role server: follows a trainer's champion from its registry, read-only, and forwards updates, promotions and rollbacks to it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { startServing } from '../../daemon/serving-only.ts';
import { drop, FAST_UPDATE, png, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const TOKEN = 'shared-secret';

test('a server follows the trainer\'s champion and forwards mutations to it', async () => {
  const stateDir = tempStateDir();
  const trainer = await startDaemon(testConfig(stateDir, { gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false, token: TOKEN });
  const serverLog = new MemoryLog();
  const server = await startServing(testConfig(stateDir, { role: 'server', trainerUrl: trainer.url }), { log: serverLog, defaultMetrics: false, token: TOKEN, pollMs: 50 });
  const post = (url: string, path: string, body?: unknown): Promise<Response> => fetch(`${url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  try {
    // No champion yet: not ready, and no lock taken (the trainer owns the state directory).
    assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
    await assert.rejects(startDaemon(testConfig(stateDir, { role: 'server' }), { log: new MemoryLog() }), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_WRONG_ROLE');

    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('the server to follow version 1', () => server.holder.version === 1 && !trainer.scheduler.busy, 45_000);
    const r = await predictPng(server.url, 1, 3);
    assert.equal(r.status, 200);
    assert.equal(r.body.version, 1);

    // An update asked of the server runs on the trainer; the server follows the result.
    await drop(join(stateDir, 'inbox'), 5, 100);
    await waitFor('5 pending samples', () => trainer.store.counts().pending === 5, 10_000);
    const asked = await post(server.url, '/v1/updates', { reason: 'asked the server' });
    assert.equal(asked.status, 202);
    assert.equal(((await asked.json()) as { state: string }).state, 'started');
    await waitFor('version 2 everywhere', () => trainer.updater.records().length === 2 && server.holder.version === 2, 45_000);
    assert.equal(trainer.holder.version, 2);
    assert.equal(trainer.updater.last()?.trigger, 'manual');
    assert.equal(trainer.updater.last()?.reason, 'asked the server');

    // Nothing pending: the trainer's refusal comes back as the server's 409.
    const refused = await post(server.url, '/v1/updates');
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'BONSAI_HTTP_UPDATE_REFUSED');

    // A rollback asked of the server moves the trainer's CURRENT; both serve version 1.
    const back = await post(server.url, '/v1/rollback');
    assert.equal(back.status, 200, await back.clone().text());
    assert.equal(((await back.json()) as { version: number }).version, 1);
    assert.equal((await trainer.registry.current())?.version, 1);
    await waitFor('the trainer to serve version 1', async () => (await predictPng(trainer.url, 0, 1)).body.version === 1, 10_000);
    assert.equal(server.holder.version, 1);

    // The trainer promotes version 2 again: the server follows by polling.
    assert.equal((await post(trainer.url, '/v1/models/2/promote')).status, 200);
    await waitFor('the server to follow version 2 again', () => server.holder.version === 2, 10_000);
    assert.equal(server.holder.status().swaps.failed, 0);

    // A server on the shared registry with no trainerUrl cannot change the champion: 409, and the
    // version asked for is never served, not even for the time it took to refuse. Its config scales
    // pixels to [-1, 1]; the model's manifest says [0, 1], so it decodes requests as the trainer does.
    const readOnlyLog = new MemoryLog();
    const readOnly = await startServing(testConfig(stateDir, { role: 'server', model: { image: { range: [-1, 1] } } }), { log: readOnlyLog, defaultMetrics: false, token: TOKEN, pollMs: 50 });
    try {
      await waitFor('the read-only server on version 2', () => readOnly.holder.version === 2, 10_000);
      const manifest = (await trainer.registry.get(2)).manifest;
      assert.deepEqual((manifest.extra as { preprocessing: { image: unknown } }).preprocessing.image, { resize: 'fill', range: [0, 1] });
      const image = await png(1, 3);
      const answer = async (url: string): Promise<unknown> => (await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image })).json();
      assert.deepEqual(await answer(readOnly.url), await answer(trainer.url), 'the same scores as the trainer');
      const differs = await waitFor('model.preprocessing_differs', () => readOnlyLog.named('model.preprocessing_differs')[0], 5_000);
      assert.deepEqual(differs.fields, ['model.image.range']);
      const swaps = readOnly.holder.status().swaps.ok;
      for (const path of ['/v1/models/1/promote', '/v1/rollback']) {
        const refusedChange = await post(readOnly.url, path);
        assert.equal(refusedChange.status, 409, path);
        assert.equal(((await refusedChange.json()) as { error: { code: string } }).error.code, 'BONSAI_DAEMON_SERVER_READ_ONLY', path);
      }
      assert.equal(readOnly.holder.version, 2);
      assert.equal(readOnly.holder.status().swaps.ok, swaps, 'no swap to the refused version and back');
      assert.equal((await trainer.registry.current())?.version, 2);
    } finally {
      await readOnly.stop();
    }
  } finally {
    await server.stop();
    await trainer.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a server without a registry waits for one, and without a trainer refuses mutations', async () => {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const server = await startServing(testConfig(stateDir, { role: 'server' }), { log, defaultMetrics: false, token: TOKEN, pollMs: 20 });
  try {
    await new Promise((r) => setTimeout(r, 100));
    // An absent models/ directory is an outage, not an empty registry: warned once, not per poll.
    assert.equal(log.named('follow.registry_unreadable').length, 1);
    assert.equal(server.holder.version, null);
    const res = await fetch(`${server.url}/v1/updates`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 409);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /only serves/);
    // The status says why nothing is followed, and since when; once the registry exists, that ends and is logged.
    const status = async (): Promise<{ followProblem: { code: string; since: string } | null }> => (await fetch(`${server.url}/v1/status`)).json() as Promise<{ followProblem: { code: string; since: string } | null }>;
    const problem = (await status()).followProblem;
    assert.equal(problem?.code, 'BONSAI_REGISTRY_UNAVAILABLE');
    assert.ok(Date.parse(problem?.since ?? '') <= Date.now());
    mkdirSync(join(stateDir, 'models'));
    await waitFor('follow.recovered', () => log.named('follow.recovered')[0], 5_000);
    assert.equal((await status()).followProblem, null);
    // A trainer that cannot be reached: what is forwarded to it answers 502, with the code.
    const orphan = await startServing(testConfig(tempStateDir(), { role: 'server', trainerUrl: 'http://127.0.0.1:9' }), { log: new MemoryLog(), defaultMetrics: false, token: TOKEN, pollMs: 1000 });
    try {
      const unreachable = await fetch(`${orphan.url}/v1/updates`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(unreachable.status, 502);
      assert.equal(((await unreachable.json()) as { error: { code: string } }).error.code, 'BONSAI_DAEMON_TRAINER_UNREACHABLE');
    } finally {
      await orphan.stop();
      rmSync(orphan.config.stateDir, { recursive: true, force: true });
    }
  } finally {
    await server.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
