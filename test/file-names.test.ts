/**
 * One naming convention for source files: kebab-case (docs/architecture.md,
 * "Rooms"). Every .ts, .js, .cjs and .mjs file of the rooms, the scripts and the
 * tests is named in lower case with words joined by hyphens, before its
 * extensions (`.test.ts`, `.d.ts`). eslint.config.js keeps the name ESLint looks
 * for; Python files (bench/torch_reference.py) follow Python's snake_case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
/** The folders holding code (bench/results holds what the benchmarks measured). */
const DIRS = ['bench', 'bin', 'cli', 'config', 'core', 'daemon', 'deploy', 'experiments', 'pipelines', 'report', 'scripts', 'test'];
const SKIP = new Set(['bench/results', 'node_modules']);
/** Names fixed by a tool. */
const EXEMPT = new Set(['eslint.config.js']);

const SOURCE = /^(.+?)((?:\.test)?(?:\.d)?\.(?:ts|js|cjs|mjs))$/;

/** Whether a file name is kebab-case before its extensions (true for files that are not code). */
function kebabName(name: string): boolean {
  const m = SOURCE.exec(name);
  return m === null || EXEMPT.has(name) || /^[a-z0-9]+(-[a-z0-9]+)*$/.test(m[1]);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (SKIP.has(relative(ROOT, path).split('\\').join('/')) || e.name === 'node_modules') return [];
    return e.isDirectory() ? walk(path) : [path];
  });
}

test('the rule: kebab-case before the extensions', () => {
  for (const ok of ['gradient-growth.ts', 'model-registry.test.ts', 'wav-decoder.d.ts', 'wasm-pthread-worker.cjs', 'conv2d.ts', 'e2e-child.ts', 'eslint.config.js', 'torch_reference.py']) {
    assert.ok(kebabName(ok), ok);
  }
  for (const bad of ['gradientGrowth.ts', 'modelRegistry.test.ts', 'batch_mat_mul.ts', 'wasm_pthread_worker.cjs', 'Index.ts', 'two--dashes.ts', '-lead.js']) {
    assert.ok(!kebabName(bad), bad);
  }
});

test('every source and test file is named in kebab-case', () => {
  const files = DIRS.flatMap((d) => walk(join(ROOT, d))).concat(readdirSync(ROOT).map((n) => join(ROOT, n)));
  const code = files.filter((f) => SOURCE.test(f));
  assert.ok(code.length > 200, `the walk found too little: ${code.length} files`);
  const bad = code.filter((f) => !kebabName(f.split(/[\\/]/).pop() as string)).map((f) => relative(ROOT, f));
  assert.deepEqual(bad, [], 'rename these to kebab-case (git mv) and update their imports');
});
