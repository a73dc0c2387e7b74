/** role server with trainerUrl: follows the trainer over HTTP, verifies every download against the manifest, refuses a corrupted one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { startServing } from '../../daemon/serving-only.ts';
import { ModelMirror } from '../../daemon/serving/mirror.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { drop, FAST_UPDATE, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const TOKEN = 'follow-secret';

test('a server follows the trainer over HTTP and refuses a corrupted download', async () => {
  const trainerDir = tempStateDir();
  const serverDir = tempStateDir();
  const fakeServerDir = tempStateDir();
  const trainer = await startDaemon(testConfig(trainerDir, { gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false, token: TOKEN });
  const stops: (() => Promise<void>)[] = [];
  try {
    // Before any promotion: a JSON 404.
    const none = await fetch(`${trainer.url}/v1/models/current`);
    assert.equal(none.status, 404);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, 'BONSAI_HTTP_NO_CHAMPION');

    const server = await startServing(testConfig(serverDir, { role: 'server', trainerUrl: trainer.url }), { log: new MemoryLog(), defaultMetrics: false, token: TOKEN, pollMs: 50 });
    stops.push(() => server.stop());
    await drop(join(trainerDir, 'inbox'), 40, 0);
    await waitFor('the server to follow version 1', () => server.holder.version === 1 && !trainer.scheduler.busy, 30_000);
    assert.equal((await predictPng(server.url, 1, 3)).body.version, 1);

    // The artifact routes: the champion's manifest, its files byte for byte, nothing else.
    const current = (await (await fetch(`${trainer.url}/v1/models/current`)).json()) as { version: number; manifest: { checksums: Record<string, string> } };
    assert.equal(current.version, 1);
    const names = Object.keys(current.manifest.checksums);
    assert.ok(names.includes('weights.bin'), names.join(','));
    const weights = await fetch(`${trainer.url}/v1/models/1/files/weights.bin`);
    assert.equal(weights.status, 200);
    assert.equal(weights.headers.get('x-bonsai-sha256'), current.manifest.checksums['weights.bin']);
    assert.deepEqual(Buffer.from(await weights.arrayBuffer()), (await import('node:fs')).readFileSync(join(serverDir, 'models', '1', 'weights.bin')));
    for (const bad of ['manifest.json', '..%2F..%2Fstore.db', '../CURRENT', '%2e%2e/CURRENT', 'nope.bin']) {
      const res = await fetch(`${trainer.url}/v1/models/1/files/${bad}`);
      assert.equal(res.status, 404, bad);
      assert.match(((await res.json()) as { error: { code: string } }).error.code, /^BONSAI_HTTP_(FILE_|)NOT_FOUND$/, bad);
    }
    assert.equal((await fetch(`${trainer.url}/v1/models/99/files/weights.bin`)).status, 404);
    assert.equal((await fetch(`${trainer.url}/v1/models/x/files/weights.bin`)).status, 400);

    // A second promoted version on the trainer: the server swaps to it.
    await drop(join(trainerDir, 'inbox'), 5, 100);
    await waitFor('5 pending samples', () => trainer.store.counts().pending === 5, 10_000);
    const asked = await fetch(`${trainer.url}/v1/updates`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(asked.status, 202);
    await waitFor('the server to follow version 2', () => trainer.updater.records().length === 2 && server.holder.version === 2, 30_000);
    assert.equal((await trainer.registry.current())?.version, 2);
    assert.equal((await predictPng(server.url, 2, 7)).body.version, 2);
    // No swap fails, not even one retried: the trainer offers its champion's files from the moment CURRENT names it.
    assert.equal(server.holder.status().swaps.failed, 0, `last failure: ${JSON.stringify(server.holder.status().lastError)}`);
    // The cache keeps the served version and its predecessor only, and the record of the one served.
    assert.deepEqual(readdirSync(join(serverDir, 'models')).filter((n) => !n.startsWith('.')).sort(), ['1', '2']);
    await waitFor('the served version recorded', () => { try { return JSON.parse(readFileSync(join(serverDir, 'models', '.served.json'), 'utf8')).version === 2; } catch { return false; } }, 10_000);
    // The lag signal: the server serves version 2 and reports the champion it followed as `followed`;
    // only the trainer exports role="champion" (BonsaiServerVersionLag compares with that).
    const exposition = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(exposition, /bonsai_model_info\{version="2",role="serving"\} 1/);
    assert.match(exposition, /bonsai_model_info\{version="2",role="followed"\} 1/);
    assert.doesNotMatch(exposition, /bonsai_model_info\{[^}]*role="champion"/);
    assert.match(await (await fetch(`${trainer.url}/metrics`)).text(), /bonsai_model_info\{version="2",role="champion"\} 1/);

    // The cache on its own: download both versions, verify them, prune all but one.
    const cacheDir = join(fakeServerDir, 'cache');
    const mirror = new ModelMirror(cacheDir, trainer.url);
    await mirror.open();
    assert.equal((await mirror.current())?.version, 2);
    await Promise.all([mirror.ensure(1), mirror.ensure(2), mirror.ensure(2)]);
    assert.deepEqual(readdirSync(cacheDir).sort(), ['1', '2']);
    const cached = await openRegistry(cacheDir, { readOnly: true });
    assert.equal((await cached.verify(1)).ok, true);
    assert.equal((await cached.verify(2)).ok, true);
    assert.deepEqual(await mirror.prune([2]), [1]);
    assert.deepEqual(readdirSync(cacheDir), ['2']);
    rmSync(cacheDir, { recursive: true });

    // A fake trainer that names version 2 but corrupts one byte of its weights: the download is refused.
    let champion = 1;
    const fake = Fastify({ logger: false });
    fake.get('/v1/models/current', async (_req, reply) => reply.send(await (await fetch(`${trainer.url}/v1/models/${champion}/manifest`)).json()));
    fake.get<{ Params: { v: string; '*': string } }>('/v1/models/:v/files/*', async (req, reply) => {
      const bytes = Buffer.from(await (await fetch(`${trainer.url}/v1/models/${req.params.v}/files/${req.params['*']}`)).arrayBuffer());
      if (req.params.v === '2' && req.params['*'] === 'weights.bin') bytes[0] ^= 0xff;
      return reply.type('application/octet-stream').send(bytes);
    });
    await fake.listen({ port: 0, host: '127.0.0.1' });
    stops.push(() => fake.close());
    const fakeUrl = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    const log = new MemoryLog();
    const follower = await startServing(testConfig(fakeServerDir, { role: 'server', trainerUrl: fakeUrl }), { log, defaultMetrics: false, pollMs: 50 });
    stops.push(() => follower.stop());
    await waitFor('the follower to serve version 1', () => follower.holder.version === 1, 10_000);
    champion = 2;
    await waitFor('the corrupted version to be refused', () => follower.holder.status().swaps.failed === 1, 10_000);
    assert.equal(follower.holder.version, 1);
    assert.equal((await predictPng(follower.url, 0, 11)).body.version, 1);
    assert.equal(follower.holder.status().lastError?.code, 'BONSAI_DAEMON_CHECKSUM_MISMATCH');
    assert.deepEqual(readdirSync(join(fakeServerDir, 'models')).filter((n) => n !== '.served.json' && !n.startsWith('..served.json.tmp-')).sort(), ['1'], 'nothing of version 2, no staging left');
    assert.ok(!existsSync(join(fakeServerDir, 'models', '2')));
    // Not retried while the champion stays the same.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(follower.holder.status().swaps.failed, 1);
  } finally {
    for (const stop of stops.reverse()) await stop();
    await trainer.stop();
    for (const d of [trainerDir, serverDir, fakeServerDir]) rmSync(d, { recursive: true, force: true });
  }
});
