/**
 * The serving-only process (`role: server`, daemon/serving-only.ts) loads
 * nothing of the trainer: the modules it reaches through value imports (type
 * imports are erased) include no file under daemon/trainer/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Relative modules a file loads when it runs: static and dynamic imports and re-exports, less the type-only ones. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s*from\s+'(\.[^']+)'/gms)) {
    const [, , typeOnly, clause, path] = m;
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const allTypes = !/^\s*\*|^\s*[\w$]+\s*(,|$)/.test(clause) && names !== undefined
      && names.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '));
    if (!typeOnly && !allTypes) found.push(path);
  }
  for (const m of text.matchAll(/^import\s+'(\.[^']+)'|import\('(\.[^']+)'\)/gm)) found.push(m[1] ?? m[2]);
  return found.map((p) => join(dirname(file), p));
}

function importGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    todo.push(...runtimeImports(file));
  }
  return seen;
}

test('the serving-only process imports nothing under daemon/trainer/', () => {
  const graph = [...importGraph(join(ROOT, 'daemon/serving-only.ts'))].map((f) => relative(ROOT, f).split('\\').join('/'));
  assert.ok(graph.includes('daemon/plugins/serving.ts') && graph.includes('daemon/serving/mirror.ts'), `the walk found too little: ${graph.join(', ')}`);
  assert.deepEqual(graph.filter((f) => f.startsWith('daemon/trainer/')), []);
});

test('the walk sees a trainer import where there is one (daemon/daemon.ts)', () => {
  const graph = [...importGraph(join(ROOT, 'daemon/daemon.ts'))].map((f) => relative(ROOT, f).split('\\').join('/'));
  assert.ok(graph.includes('daemon/trainer/updater.ts'));
});
