/**
 * The artifact routes while a promotion is being written: the registry writes
 * CURRENT before the version's manifest says `promoted`, so a server that polls
 * `/v1/models/current` in between is told about a version whose manifest still
 * says `candidate`. Its download must succeed (it once answered 404 and counted
 * a failed swap on every follower that polled at that moment).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { openRegistry } from '../../daemon/registry/index.ts';
import { registerArtifacts, toErrorResponse } from '../../daemon/server/index.ts';
import { ModelMirror } from '../../daemon/serving/mirror.ts';
import { registryArtifacts } from '../../daemon/wiring.ts';
import { artifacts, input, tempModels } from './registry-helpers.ts';

test('the version CURRENT names is offered while its manifest still says candidate; other candidates are not', async () => {
  const { dir, cleanup } = tempModels();
  const cacheRoot = join(dir, '..', 'cache');
  const registry = await openRegistry(dir);
  const app = Fastify({ logger: false });
  app.setErrorHandler((err, _request, reply) => {
    const { status, body } = toErrorResponse(err, {});
    return reply.code(status).send(body);
  });
  registerArtifacts(app, registryArtifacts(registry));
  try {
    await registry.publish(artifacts(1), input());
    await registry.promote(1, 'first champion');
    await registry.publish(artifacts(2), input());
    await registry.publish(artifacts(3), input());
    // The moment inside promote(2) after CURRENT is written and before version 2's manifest is.
    writeFileSync(join(dir, 'CURRENT'), '2\n');
    assert.equal((await registry.get(2)).manifest.state, 'candidate');

    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const mirror = new ModelMirror(cacheRoot, url);
    await mirror.open();
    const champion = await mirror.current();
    assert.equal(champion?.version, 2);
    assert.equal(champion?.manifest.state, 'candidate');
    await mirror.ensure(2);
    const cache = await openRegistry(cacheRoot, { readOnly: true });
    const check = await cache.verify(2);
    assert.equal(check.ok, true, JSON.stringify(check));
    assert.deepEqual((await cache.get(2)).manifest.checksums, (await registry.get(2)).manifest.checksums);

    const manifest = await fetch(`${url}/v1/models/2/manifest`);
    assert.equal(manifest.status, 200);
    // A candidate that CURRENT does not name stays hidden, with its state in the answer.
    for (const path of ['/v1/models/3/manifest', '/v1/models/3/files/weights.bin']) {
      const res = await fetch(`${url}${path}`);
      assert.equal(res.status, 404, path);
      const body = (await res.json()) as { error: { code: string; details: { state: string } } };
      assert.equal(body.error.code, 'BONSAI_HTTP_MODEL_NOT_FOUND', path);
      assert.equal(body.error.details.state, 'candidate', path);
    }
    // The retired-to-be champion stays offered (a rollback target).
    assert.equal((await fetch(`${url}/v1/models/1/files/weights.bin`)).status, 200);
  } finally {
    await app.close();
    cleanup();
  }
});
