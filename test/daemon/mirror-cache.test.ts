/**
 * A server's model cache against a trainer that changes under it: a trainer whose state is
 * reset (its version 1 is another model), a damaged cached file, versions left by earlier
 * runs. The server must serve the trainer's model, never an old one under its number, and
 * never be left with nothing to serve while the trainer can send the files again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { startServing, type ServingDaemon } from '../../daemon/serving-only.ts';
import { drop, FAST_UPDATE, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const TOKEN = 'cache-secret';

/** A trainer on `port` (0: any) whose first model is trained on 40 samples from `firstSeed`. */
async function trainerWithModel(dir: string, port: number, firstSeed: number, flip: boolean): Promise<Daemon> {
  const trainer = await startDaemon(testConfig(dir, { server: { port }, gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false, token: TOKEN });
  await drop(join(dir, 'inbox'), 40, firstSeed, { flip });
  await waitFor('the trainer\'s version 1', async () => (await trainer.registry.current())?.version === 1 && !trainer.scheduler.busy, 30_000);
  return trainer;
}

/** A second promoted version on `trainer` (tolerance 1 in its gate, so any candidate passes). */
async function promoteAnother(trainer: Daemon, dir: string, firstSeed: number, version: number): Promise<void> {
  await drop(join(dir, 'inbox'), 5, firstSeed);
  await waitFor('5 pending samples', () => trainer.store.counts().pending === 5, 10_000);
  const asked = await fetch(`${trainer.url}/v1/updates`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(asked.status, 202);
  await waitFor(`the trainer's version ${version}`, async () => (await trainer.registry.current())?.version === version && !trainer.scheduler.busy, 30_000);
}

function serve(dir: string, trainerUrl: string, log: MemoryLog): Promise<ServingDaemon> {
  return startServing(testConfig(dir, { role: 'server', trainerUrl }), { log, defaultMetrics: false, token: TOKEN, pollMs: 50 });
}

const weights = (stateDir: string, version: number): Buffer => readFileSync(join(stateDir, 'models', String(version), 'weights.bin'));

test('a server replaces a cached version that is not the trainer\'s or is damaged, and prunes versions of earlier runs', async () => {
  const [dirA, dirB, serverDir] = [tempStateDir(), tempStateDir(), tempStateDir()];
  let trainer: Daemon | null = null;
  let server: ServingDaemon | null = null;
  try {
    // Trainer A's version 1, followed and cached by the server.
    trainer = await trainerWithModel(dirA, 0, 0, false);
    const port = trainer.port;
    let log = new MemoryLog();
    server = await serve(serverDir, trainer.url, log);
    await waitFor('the server on version 1', () => server?.holder.version === 1, 10_000);
    assert.deepEqual(weights(serverDir, 1), weights(dirA, 1));

    // The trainer's state is lost: trainer B on the same address, a fresh state directory, other data.
    await trainer.stop();
    trainer = null;
    trainer = await startDaemon(testConfig(dirB, { server: { port }, gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false, token: TOKEN });
    // While B has no champion, the server says so once and keeps serving.
    const gone = await waitFor('follow.champion_gone', () => log.events.find((e) => e.event === 'follow.champion_gone'), 10_000);
    assert.equal(gone.level, 'warn');
    assert.equal(gone.fields.lastSeen, 1);
    assert.equal((await predictPng(server.url, 0, 1)).status, 200);
    await drop(join(dirB, 'inbox'), 40, 500, { flip: true });
    await waitFor('trainer B\'s version 1', async () => (await trainer?.registry.current())?.version === 1 && !trainer?.scheduler.busy, 30_000);
    assert.notDeepEqual(weights(dirB, 1), weights(dirA, 1), 'two different models numbered 1');
    // The running server notices that version 1 is another model now, and serves B's.
    const replaced = await waitFor('the stale copy replaced', () => log.events.find((e) => e.event === 'model.cache_replaced'), 10_000);
    assert.equal(replaced.fields.cause, 'stale');
    assert.equal(replaced.fields.version, 1);
    // Between the stale copy's removal and the new one's rename there is no models/1: read as not yet.
    await waitFor('the cache to hold B\'s version 1', () => { try { return weights(serverDir, 1).equals(weights(dirB, 1)); } catch { return false; } }, 10_000);
    await waitFor('the server to serve it', () => server?.holder.status().swaps.ok === 2, 10_000);
    assert.equal(log.events.filter((e) => e.event === 'follow.champion_gone').length, 1, 'said once');
    assert.equal(server.holder.status().swaps.failed, 0);
    const trainerAnswer = await predictPng(trainer.url, 2, 7);
    const serverAnswer = await predictPng(server.url, 2, 7);
    assert.deepEqual(serverAnswer.body, trainerAnswer.body, 'the server answers as the trainer does');

    // A damaged cached file, found at a restart: downloaded again, served, no failed swap.
    await server.stop();
    server = null;
    const damaged = weights(serverDir, 1);
    damaged[0] ^= 0xff;
    writeFileSync(join(serverDir, 'models', '1', 'weights.bin'), damaged);
    log = new MemoryLog();
    server = await serve(serverDir, trainer.url, log);
    await waitFor('the server on version 1 again', () => server?.holder.version === 1, 10_000);
    assert.equal(server.holder.status().swaps.failed, 0, JSON.stringify(server.holder.status().lastError));
    const repaired = log.events.find((e) => e.event === 'model.cache_replaced');
    assert.equal(repaired?.fields.cause, 'damaged');
    assert.deepEqual(repaired?.fields.files, ['weights.bin']);
    assert.deepEqual(weights(serverDir, 1), weights(dirB, 1));

    // An intact cached version is used as it is after a restart, and pruned like one downloaded.
    await server.stop();
    server = null;
    log = new MemoryLog();
    server = await serve(serverDir, trainer.url, log);
    await waitFor('the server on version 1, from its cache', () => server?.holder.version === 1, 10_000);
    assert.equal(log.events.filter((e) => e.event === 'model.cache_replaced').length, 0);
    await promoteAnother(trainer, dirB, 900, 2);
    await promoteAnother(trainer, dirB, 950, 3);
    await waitFor('the server on version 3', () => server?.holder.version === 3, 10_000);
    await waitFor('the cache to keep the served version and its predecessor', () => readdirSync(join(serverDir, 'models')).filter((n) => !n.startsWith('.')).sort().join() === '2,3', 10_000);
  } finally {
    await server?.stop();
    await trainer?.stop();
    for (const d of [dirA, dirB, serverDir]) rmSync(d, { recursive: true, force: true });
  }
});

test('a cache inside a trainer\'s registry keeps the versions it did not download', async () => {
  const { ModelMirror } = await import('../../daemon/serving/mirror.ts');
  const dir = tempStateDir();
  try {
    const models = join(dir, 'models');
    const { mkdirSync } = await import('node:fs');
    for (const v of ['1', '2']) mkdirSync(join(models, v), { recursive: true });
    writeFileSync(join(models, 'CURRENT'), '2\n');
    const shared = new ModelMirror(models, 'http://127.0.0.1:9');
    await shared.open();
    assert.deepEqual(await shared.prune([2]), [], 'a trainer\'s registry: nothing of it is the mirror\'s');
    rmSync(join(models, 'CURRENT'));
    const own = new ModelMirror(models, 'http://127.0.0.1:9');
    await own.open();
    assert.deepEqual(await own.prune([2]), [1], 'a cache of its own: version 1 of an earlier run is pruned');
    assert.deepEqual(readdirSync(models).sort(), ['2']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged manifest in the cache is downloaded again; a damaged version in a trainer\'s registry is refused, never replaced', async () => {
  const { ModelMirror } = await import('../../daemon/serving/mirror.ts');
  const { BonsaiError } = await import('../../core/errors.ts');
  const { cpSync, existsSync } = await import('node:fs');
  const [trainerDir, cacheParent] = [tempStateDir(), tempStateDir()];
  const trainer = await trainerWithModel(trainerDir, 0, 0, false);
  try {
    // A cache of its own: a manifest.json cut short (readManifest fails) is replaced, cause damaged.
    const cache = join(cacheParent, 'cache');
    const first = new ModelMirror(cache, trainer.url);
    await first.open();
    await first.ensure(1);
    writeFileSync(join(cache, '1', 'manifest.json'), '{"vers');
    const replaced: Array<{ version: number; cause: string; files: string[] }> = [];
    const again = new ModelMirror(cache, trainer.url, { onReplaced: (r) => replaced.push(r) });
    await again.open();
    await again.ensure(1);
    assert.deepEqual(replaced, [{ version: 1, cause: 'damaged', files: ['manifest.json'] }]);
    assert.deepEqual(readFileSync(join(cache, '1', 'weights.bin')), weights(trainerDir, 1));
    // A version being read by a loader is left by a prune meanwhile; once read, it may go.
    assert.deepEqual(await again.use(1, async () => {
      const removed = await again.prune([]);
      assert.ok(existsSync(join(cache, '1', 'weights.bin')), 'still there while in use');
      return removed;
    }), []);
    assert.deepEqual(await again.prune([]), [1]);

    // A trainer's registry (CURRENT, history.jsonl): a damaged file is refused with the version left as it is.
    const shared = join(cacheParent, 'shared');
    cpSync(join(trainerDir, 'models'), shared, { recursive: true });
    const bytes = readFileSync(join(shared, '1', 'weights.bin'));
    bytes[0] ^= 0xff;
    writeFileSync(join(shared, '1', 'weights.bin'), bytes);
    const onShared = new ModelMirror(shared, trainer.url, { onReplaced: () => assert.fail('a trainer\'s version replaced') });
    await onShared.open();
    await assert.rejects(onShared.ensure(1), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_MODEL_CORRUPT' && /not this server's copy/.test(e.message));
    assert.ok(existsSync(join(shared, '1', 'weights.bin')));
    assert.deepEqual(readFileSync(join(shared, '1', 'weights.bin')), bytes, 'left as it was');
  } finally {
    await trainer.stop();
    for (const d of [trainerDir, cacheParent]) rmSync(d, { recursive: true, force: true });
  }
});

test('a server started while its trainer is away serves the version it served last, from its cache, until the trainer answers', async () => {
  const [trainerDir, serverDir] = [tempStateDir(), tempStateDir()];
  let trainer: Daemon | null = null;
  let server: ServingDaemon | null = null;
  try {
    trainer = await trainerWithModel(trainerDir, 0, 0, false);
    const port = trainer.port;
    await promoteAnother(trainer, trainerDir, 900, 2);
    server = await serve(serverDir, trainer.url, new MemoryLog());
    await waitFor('the server on version 2', () => server?.holder.version === 2, 10_000);
    // Rolled back on the trainer: the server serves version 1 and keeps 2 cached, so the last served is not the newest.
    const back = await fetch(`${trainer.url}/v1/rollback`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(back.status, 200);
    await waitFor('the server on version 1', () => server?.holder.version === 1, 10_000);
    const answer = (await predictPng(server.url, 2, 7)).body;
    await waitFor('both versions cached', () => readdirSync(join(serverDir, 'models')).filter((n) => /^\d+$/.test(n)).sort().join() === '1,2', 10_000);
    await server.stop();
    server = null;
    await trainer.stop();
    trainer = null;

    // The trainer is away: the restarted server serves version 1 from its cache, and says so.
    const log = new MemoryLog();
    server = await serve(serverDir, `http://127.0.0.1:${port}`, log);
    assert.equal(server.holder.version, 1, 'served at once, before any trainer answers');
    const said = log.events.filter((e) => e.event === 'follow.serving_cached');
    assert.equal(said.length, 1);
    assert.equal(said[0].level, 'warn');
    assert.equal(said[0].fields.version, 1);
    assert.deepEqual((await predictPng(server.url, 2, 7)).body, answer);
    const status = await (await fetch(`${server.url}/v1/status`)).json() as { followProblem: { code: string } | null };
    assert.equal(status.followProblem?.code, 'BONSAI_DAEMON_TRAINER_UNREACHABLE');

    // The trainer back with that champion: nothing to swap, the problem ends.
    trainer = await startDaemon(testConfig(trainerDir, { server: { port }, gate: { tolerance: 1 } }), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false, token: TOKEN });
    await waitFor('follow.recovered', () => log.events.find((e) => e.event === 'follow.recovered'), 10_000);
    await server.follow();
    assert.equal(server.holder.version, 1);
    assert.equal(server.holder.status().swaps.ok, 1, 'no second swap to the same model');
    const followed = (await server.metrics.expose()).body.split('\n').filter((l) => l.startsWith('bonsai_model_info{') && l.includes('role="followed"'));
    assert.deepEqual(followed, ['bonsai_model_info{version="1",role="followed"} 1'], 'the champion confirmed is exported as followed');
  } finally {
    await server?.stop();
    await trainer?.stop();
    for (const d of [trainerDir, serverDir]) rmSync(d, { recursive: true, force: true });
  }
});
