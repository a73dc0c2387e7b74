/** Shared fixtures of the registry tests: a temp models directory, tiny artifacts, a manifest input, a clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import type { ManifestInput } from '../../daemon/registry/index.ts';

/** A fresh directory; `cleanup()` removes it. */
export function tempModels(): { dir: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'bonsai-registry-'));
  return { dir: join(root, 'models'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** writeArtifacts that writes a tiny model: model.json and weights.bin (bytes derived from `seed`). */
export function artifacts(seed: number): (dir: string) => Promise<void> {
  return async (dir) => {
    await writeFile(join(dir, 'model.json'), JSON.stringify({ name: 'lenet300', seed }));
    await writeFile(join(dir, 'weights.bin'), Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 7 + seed) % 256)));
  };
}

/** A valid manifest input. */
export function input(overrides: Partial<ManifestInput> = {}): ManifestInput {
  return {
    samplesSeen: 1000,
    metrics: { validationAccuracy: 0.97 },
    parameters: { dense1: { live: 120, total: 235_500 }, dense2: { live: 30, total: 30_100 } },
    cost: { sampleEpochs: 21_500, epochs: 21.5, flops: 1e9, wallSeconds: 12.5 },
    backend: 'cpu',
    timings: { growNew: 1, growAll: 2, prune: 3 },
    ...overrides,
  };
}

/** A clock that advances one second per call, from 2024-01-01T00:00:00Z. */
export function steppingClock(): () => Date {
  let t = Date.UTC(2024, 0, 1);
  return () => new Date((t += 1000));
}

/** Awaits `fn` and checks that it rejects with a BonsaiError of `code` whose message holds every needle. */
export async function rejectsWith(fn: () => Promise<unknown>, code: string, ...needles: string[]): Promise<BonsaiError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BonsaiError, `expected a BonsaiError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const n of needles) assert.ok(caught.message.includes(n), `message lacks ${JSON.stringify(n)}: ${caught.message}`);
  return caught;
}
