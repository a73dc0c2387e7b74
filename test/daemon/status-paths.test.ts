/**
 * The daemon's own `/v1/status` (daemon/daemon.ts) through its http plugin: the state
 * directory, absolute, is there only for a request with the API token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { tempStateDir, testConfig, TINY_MODEL } from './e2e-helpers.ts';

/** Every string in a JSON value, keys left out. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

test('GET /v1/status of a running daemon: no absolute path without the token, the state directory with it', async () => {
  const stateDir = tempStateDir('bonsai-status-paths-');
  const token = 'status-token';
  const d = await startDaemon(testConfig(stateDir), { model: TINY_MODEL, log: new MemoryLog(), defaultMetrics: false, token });
  try {
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }] as Array<Record<string, string>>) {
      const res = await fetch(`${d.url}/v1/status`, { headers });
      assert.equal(res.status, 200);
      const body = await res.json() as Record<string, unknown>;
      assert.equal(body.state, 'running');
      assert.equal('stateDir' in body, false);
      assert.deepEqual(strings(body).filter((s) => s.startsWith('/') || s.includes(stateDir)), [], JSON.stringify(body));
    }
    const whole = await (await fetch(`${d.url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).json() as Record<string, unknown>;
    assert.equal(whole.stateDir, stateDir);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
