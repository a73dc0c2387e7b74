/**
 * Promoting the version that is already the champion: docs/http-api.md promises
 * 200 with `unchanged`, through the real registry (the fake one hid a 409).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRegistry } from '../../daemon/registry/index.ts';
import { buildServer } from '../../daemon/server/index.ts';
import { createMetrics } from '../../daemon/metrics/index.ts';
import { ModelHolder } from '../../daemon/serving/index.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { registryOps } from '../../daemon/wiring.ts';
import { fakeImage, fakeModel } from './server-fakes.ts';
import { artifacts, input, tempModels } from './registry-helpers.ts';

const TOKEN = 'promote-test-token';

test('promoting the champion again answers 200 with unchanged and writes nothing', async () => {
  const { dir, cleanup } = tempModels();
  try {
    const registry = await openRegistry(dir);
    await registry.publish(artifacts(1), input());
    await registry.publish(artifacts(2), input());
    await registry.promote(2, 'first champion');
    const historyBefore = (await registry.history()).length;
    const stateChangedAt = (await registry.get(2)).manifest.stateChangedAt;

    const holder = new ModelHolder({ loader: async (v) => fakeModel(v) });
    await holder.swapTo(2);
    const metrics = createMetrics({ version: '0.0.0-test', defaultMetrics: false, tfMemory: () => ({ numTensors: 0, numBytes: 0 }) });
    const app = buildServer({
      holder, metrics, token: TOKEN, registry: registryOps(registry, metrics, new MemoryLog()),
      preprocess: { image: fakeImage, audio: fakeImage },
      updates: { requestUpdate: async () => ({ accepted: false, state: 'idle' }) },
      status: { status: () => ({}) },
    });
    const res = await app.inject({ method: 'POST', url: '/v1/models/2/promote', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().swap.outcome, 'unchanged');
    assert.equal(res.json().registry.unchanged, true);
    assert.equal(res.json().registry.state, 'promoted');
    assert.equal((await registry.current())?.version, 2);
    assert.equal((await registry.history()).length, historyBefore, 'no history entry for a promotion that changed nothing');
    assert.equal((await registry.get(2)).manifest.stateChangedAt, stateChangedAt);

    const other = await app.inject({ method: 'POST', url: '/v1/models/1/promote', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(other.statusCode, 200, other.body);
    assert.equal(other.json().registry.unchanged, false);
    await app.close();
    await holder.close();
  } finally {
    cleanup();
  }
});
