import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'results') return [];
    return statSync(path).isDirectory() ? files(path, ext) : path.endsWith(ext) ? [path] : [];
  });
}

test('every error code thrown in the source is documented in docs/errors*.md, and docs/errors.md links every area file', () => {
  const source = ['core', 'pipelines', 'daemon', 'report', 'experiments', 'config', 'cli', 'bench'].flatMap((d) => files(d, '.ts'));
  const codes = new Set<string>();
  for (const f of source) {
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](BONSAI_(?:CORE|INGEST|STORE|DAEMON|HTTP|CONFIG|REGISTRY|CLI|DATA|BENCH|DEPLOY|SPEECH)_[A-Z0-9_]+)['"`]/g)) codes.add(m[1]);
  }
  const docs = readdirSync('docs').filter((n) => /^errors.*\.md$/.test(n)).map((n) => readFileSync(join('docs', n), 'utf8')).join('\n');
  const missing = [...codes].filter((c) => !new RegExp(`\\b${c}\\b`).test(docs)).sort();
  assert.deepEqual(missing, [], `undocumented error codes: ${missing.join(', ')}`);
  const index = readFileSync('docs/errors.md', 'utf8');
  for (const n of readdirSync('docs').filter((n) => /^errors-.*\.md$/.test(n))) assert.ok(index.includes(`(${n})`), `docs/errors.md does not link ${n}`);
  assert.ok(codes.size > 100, `only ${codes.size} codes found: the scan is broken`);
});
