import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BonsaiError } from '../../core/errors.ts';
import { ModelHolder, type Lease, type LoadedModel, type SwapResult } from '../../daemon/serving/index.ts';
import { createMetrics, swapObserver } from '../../daemon/metrics/index.ts';

/** Deterministic PRNG (mulberry32) so the stress test is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FakeModel extends LoadedModel {
  disposeCalls: number;
  warmUps: number;
}

interface FakeOptions {
  predictDelayMs?: () => number;
  warmUpFails?: boolean;
  /** Called inside dispose, e.g. to assert that no lease is outstanding. */
  onDispose?: (version: number) => void;
  reportedVersion?: number;
}

/** A 2-class model whose scores encode its version, and that fails loudly if used after dispose. */
function fakeModel(version: number, options: FakeOptions = {}): FakeModel {
  const model: FakeModel = {
    version: options.reportedVersion ?? version,
    labels: ['a', 'b'],
    inputShape: [2],
    modality: 'image',
    disposeCalls: 0,
    warmUps: 0,
    async predict(batch: Float32Array, n: number): Promise<Float32Array> {
      if (model.disposeCalls > 0) throw new Error(`predict on disposed model ${version}`);
      const ms = options.predictDelayMs?.() ?? 0;
      if (ms > 0) await sleep(ms);
      if (model.disposeCalls > 0) throw new Error(`model ${version} disposed during predict`);
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) out.set([version / 1000, batch[i * 2]], i * 2);
      return out;
    },
    async warmUp(): Promise<void> {
      model.warmUps += 1;
      if (options.warmUpFails === true) throw new BonsaiError('BONSAI_CORE_MODEL_UNREADABLE', `warm-up of ${version} failed`);
    },
    dispose(): void {
      options.onDispose?.(version);
      model.disposeCalls += 1;
    },
  };
  return model;
}

test('hundreds of overlapping requests see zero failures across many swaps; each old model is disposed once, never while leased', async () => {
  const random = prng(42);
  const models = new Map<number, FakeModel>();
  const leased = new Map<number, number>();
  const disposedWhileLeased: number[] = [];
  const holder = new ModelHolder({
    loader: async (version) => {
      await sleep(Math.floor(random() * 3));
      const m = fakeModel(version, {
        predictDelayMs: () => Math.floor(random() * 4),
        onDispose: (v) => {
          if ((leased.get(v) ?? 0) !== 0) disposedWhileLeased.push(v);
        },
      });
      models.set(version, m);
      return m;
    },
  });
  assert.equal((await holder.swapTo(1)).outcome, 'ok');

  const failures: unknown[] = [];
  const versionsSeen = new Set<number>();
  const request = async (i: number): Promise<void> => {
    let lease: Lease | null = null;
    try {
      lease = holder.acquire();
      const v = lease.model.version;
      leased.set(v, (leased.get(v) ?? 0) + 1);
      await sleep(Math.floor(random() * 3));
      const out = await lease.model.predict(Float32Array.of(i, 0), 1);
      // The answer must come from the model the request leased.
      assert.equal(Math.round(out[0] * 1000), v);
      assert.equal(out[1], i);
      versionsSeen.add(v);
    } catch (err) {
      failures.push(err);
    } finally {
      if (lease !== null) {
        leased.set(lease.model.version, (leased.get(lease.model.version) ?? 0) - 1);
        lease.release();
      }
    }
  };
  let swapping = true;
  const swaps = (async () => {
    const results: SwapResult[] = [];
    for (let v = 2; v <= 25; v++) {
      results.push(await holder.swapTo(v));
      await sleep(Math.floor(random() * 2));
    }
    swapping = false;
    return results;
  })();
  // 24 clients fire overlapping requests back to back until the swaps are done (at least 400 in all).
  let sent = 0;
  const client = async (): Promise<void> => {
    while (swapping || sent < 400) {
      const i = sent++;
      await request(i);
    }
  };
  await Promise.all([...Array.from({ length: 24 }, () => client()), swaps]);
  const results = await swaps;

  assert.deepEqual(failures, []);
  assert.deepEqual(disposedWhileLeased, []);
  assert.ok(results.every((r) => r.outcome === 'ok'));
  assert.ok(sent >= 400);
  assert.ok(versionsSeen.size >= 10, `requests should span several versions, saw ${[...versionsSeen].join(',')}`);
  assert.equal(holder.version, 25);
  for (const [version, model] of models) {
    assert.equal(model.disposeCalls, version === 25 ? 0 : 1, `model ${version} disposed ${model.disposeCalls} times`);
    assert.equal(model.warmUps, 1);
  }
  assert.deepEqual(holder.status().draining, []);
  await holder.close();
  assert.equal(models.get(25)?.disposeCalls, 1);
});

test('a failed load or warm-up keeps the old model serving, is counted, and is returned with its cause', async () => {
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const models = new Map<number, FakeModel>();
  const holder = new ModelHolder({
    onSwap: swapObserver(metrics),
    loader: async (version) => {
      if (version === 2) throw new BonsaiError('BONSAI_REGISTRY_BAD_ARTIFACT', 'models/2 has no weights');
      const m = fakeModel(version, { warmUpFails: version === 3 });
      models.set(version, m);
      return m;
    },
  });
  await holder.swapTo(1);
  const held = holder.acquire();

  const load = await holder.swapTo(2);
  assert.equal(load.outcome, 'failed');
  assert.equal(load.error?.code, 'BONSAI_DAEMON_SWAP_FAILED');
  assert.equal(load.error?.details.causeCode, 'BONSAI_REGISTRY_BAD_ARTIFACT');
  assert.equal(load.error?.details.phase, 'load');
  assert.match(load.error?.message ?? '', /version 1 keeps serving/);
  assert.equal((load.error?.cause as BonsaiError).code, 'BONSAI_REGISTRY_BAD_ARTIFACT');

  const warm = await holder.swapTo(3);
  assert.equal(warm.outcome, 'failed');
  assert.equal(warm.error?.details.phase, 'warm-up');
  assert.equal(models.get(3)?.disposeCalls, 1, 'the candidate that failed warm-up is freed');

  assert.equal(holder.version, 1);
  assert.equal(models.get(1)?.disposeCalls, 0);
  const out = await holder.acquire().model.predict(Float32Array.of(5, 0), 1);
  assert.equal(out[1], 5);
  held.release();

  const swaps = await metrics.modelSwaps.get();
  const count = (outcome: string): number => swaps.values.find((v) => v.labels.outcome === outcome)?.value ?? -1;
  assert.equal(count('failed'), 2);
  assert.equal(count('ok'), 1);
  assert.deepEqual(holder.status().swaps, { ok: 1, failed: 2 });
  assert.equal(holder.status().lastError?.version, 3);
  const info = await metrics.modelInfo.get();
  assert.deepEqual(info.values.map((v) => v.labels), [{ version: '1', role: 'serving' }]);
});

test('concurrent swap requests run one at a time, in order', async () => {
  let loading = 0;
  let maxLoading = 0;
  const order: number[] = [];
  const holder = new ModelHolder({
    loader: async (version) => {
      loading += 1;
      maxLoading = Math.max(maxLoading, loading);
      order.push(version);
      await sleep(3);
      loading -= 1;
      return fakeModel(version);
    },
  });
  const results = await Promise.all([holder.swapTo(1), holder.swapTo(2), holder.swapTo(3), holder.swapTo(4)]);
  assert.equal(maxLoading, 1);
  assert.deepEqual(order, [1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => [r.previousVersion, r.servingVersion]), [[null, 1], [1, 2], [2, 3], [3, 4]]);
  assert.equal(holder.version, 4);
});

test('no model: tryAcquire gives null, acquire throws BONSAI_DAEMON_NO_MODEL, not ready', async () => {
  const holder = new ModelHolder({ loader: async (v) => fakeModel(v) });
  assert.equal(holder.ready, false);
  assert.equal(holder.tryAcquire(), null);
  assert.throws(() => holder.acquire(), (err: unknown) => err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_NO_MODEL');
  await holder.swapTo(7);
  assert.equal(holder.ready, true);
  assert.equal(holder.acquire().model.version, 7);
});

test('swapping to the served version is a no-op unless forced', async () => {
  let loads = 0;
  const holder = new ModelHolder({ loader: async (v) => { loads += 1; return fakeModel(v); } });
  await holder.swapTo(1);
  const same = await holder.swapTo(1);
  assert.equal(same.outcome, 'unchanged');
  assert.equal(loads, 1);
  const forced = await holder.swapTo(1, { force: true });
  assert.equal(forced.outcome, 'ok');
  assert.equal(loads, 2);
});

test('a lease released twice counts once; the old model waits for the other lease', async () => {
  const models: FakeModel[] = [];
  const holder = new ModelHolder({ loader: async (v) => { const m = fakeModel(v); models.push(m); return m; } });
  await holder.swapTo(1);
  const a = holder.acquire();
  const b = holder.acquire();
  await holder.swapTo(2);
  a.release();
  a.release();
  assert.equal(models[0].disposeCalls, 0);
  assert.deepEqual(holder.status().draining, [{ version: 1, leases: 1 }]);
  b.release();
  assert.equal(models[0].disposeCalls, 1);
  assert.deepEqual(holder.status().draining, []);
});

test('a load slower than swapTimeoutMs fails the swap, and the late model is disposed when it arrives', async () => {
  const late: FakeModel[] = [];
  const holder = new ModelHolder({
    swapTimeoutMs: 10,
    loader: async (v) => {
      if (v === 2) await sleep(60);
      const m = fakeModel(v);
      late.push(m);
      return m;
    },
  });
  await holder.swapTo(1);
  const result = await holder.swapTo(2);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.error?.details.causeCode, 'BONSAI_DAEMON_SWAP_TIMEOUT');
  assert.equal(holder.version, 1);
  await sleep(80);
  assert.equal(late[1].version, 2);
  assert.equal(late[1].disposeCalls, 1);
});

test('a loader that returns the wrong version is rejected as a bad model', async () => {
  const wrong = fakeModel(2, { reportedVersion: 3 });
  const holder = new ModelHolder({ loader: async () => wrong });
  const result = await holder.swapTo(2);
  assert.equal(result.outcome, 'failed');
  assert.equal(result.error?.details.causeCode, 'BONSAI_DAEMON_BAD_MODEL');
  assert.equal(result.error?.details.phase, 'validate');
  assert.equal(wrong.disposeCalls, 1);
  assert.equal(holder.ready, false);
});

test('close waits for requests in flight, then disposes; later swaps fail', async () => {
  const m = fakeModel(1);
  const holder = new ModelHolder({ loader: async () => m });
  await holder.swapTo(1);
  const lease = holder.acquire();
  let closed = false;
  const closing = holder.close().then(() => {
    closed = true;
  });
  await sleep(5);
  assert.equal(closed, false);
  assert.equal(m.disposeCalls, 0);
  assert.equal(holder.ready, false);
  assert.equal(holder.tryAcquire(), null);
  lease.release();
  await closing;
  assert.equal(m.disposeCalls, 1);
  assert.equal((await holder.swapTo(2)).outcome, 'failed');
});
