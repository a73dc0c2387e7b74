/** docs/errors-daemon.md lists exactly the BONSAI_DAEMON_* codes the orchestration code uses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['daemon/watch', 'daemon/triggers', 'daemon/trainer', 'daemon/serving/loader.ts', 'daemon/prequential-scorer.ts', 'daemon/lifecycle.ts', 'daemon/logging.ts', 'daemon/daemon.ts', 'daemon/serving-only.ts', 'daemon/serving/mirror.ts', 'daemon/wiring.ts', 'daemon/storage.ts', 'cli/commands/start.ts', 'cli/main.ts'];

function files(path: string): string[] {
  const full = join(root, path);
  return statSync(full).isDirectory() ? readdirSync(full).flatMap((n) => files(join(path, n))) : [full];
}

test('docs/errors-daemon.md lists every code used, and only those, once each', () => {
  const used = new Set<string>();
  for (const f of SOURCES.flatMap(files).filter((f) => f.endsWith('.ts'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/'(BONSAI_DAEMON_[A-Z_]+)'/g)) used.add(m[1]);
  }
  const doc = readFileSync(join(root, 'docs/errors-daemon.md'), 'utf8');
  const listed = [...doc.matchAll(/^- `(BONSAI_[A-Z_]+)` — \S/gm)].map((m) => m[1]);
  assert.equal(new Set(listed).size, listed.length, 'a code is listed twice');
  // Codes of the model holder and metrics (errors-http.md) that these files only test for are not theirs to list.
  const http = readFileSync(join(root, 'docs/errors-http.md'), 'utf8');
  const elsewhere = new Set([...http.matchAll(/^- `(BONSAI_[A-Z_]+)` — /gm)].map((m) => m[1]));
  const mine = [...used].filter((c) => !elsewhere.has(c));
  assert.ok(mine.length >= 10);
  assert.deepEqual(mine.filter((c) => !listed.includes(c)).sort(), [], 'used but not documented');
  assert.deepEqual(listed.filter((c) => !used.has(c)).sort(), [], 'documented but never used');
});
