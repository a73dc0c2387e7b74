import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, allErrorCodes, isErrorCode } from '../../core/errors.ts';

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'results') return [];
    return statSync(path).isDirectory() ? files(path, ext) : path.endsWith(ext) ? [path] : [];
  });
}

/** The codes docs/errors*.md list, one entry each (`- \`CODE\` — ...` or a table row). */
function documented(): Set<string> {
  const docs = readdirSync('docs').filter((n) => /^errors.*\.md$/.test(n)).map((n) => readFileSync(join('docs', n), 'utf8')).join('\n');
  return new Set([...docs.matchAll(/^(?:- |\| )`(BONSAI_[A-Z0-9_]+)`/gm)].map((m) => m[1]));
}

test('docs/errors*.md list exactly the codes of core/error-codes.ts, and docs/errors.md links every area file', () => {
  const codes = allErrorCodes();
  const listed = documented();
  assert.deepEqual(codes.filter((c) => !listed.has(c)), [], 'codes in core/error-codes.ts that no docs page lists');
  assert.deepEqual([...listed].filter((c) => !isErrorCode(c)).sort(), [], 'codes documented but not in core/error-codes.ts');
  const index = readFileSync('docs/errors.md', 'utf8');
  for (const n of readdirSync('docs').filter((n) => /^errors-.*\.md$/.test(n))) assert.ok(index.includes(`(${n})`), `docs/errors.md does not link ${n}`);
  assert.ok(codes.length > 100, `only ${codes.length} codes: the list is broken`);
});

test('each code is in the area its prefix names, once', () => {
  const prefixes = { core: 'CORE', data: 'DATA', ingest: 'INGEST', store: 'STORE', config: 'CONFIG', registry: 'REGISTRY', daemon: 'DAEMON', http: 'HTTP', cli: 'CLI', deploy: 'DEPLOY', bench: 'BENCH' };
  for (const [area, codes] of Object.entries(ERROR_CODES)) {
    for (const code of codes) assert.ok(code.startsWith(`BONSAI_${prefixes[area as keyof typeof prefixes]}_`), `${code} in area ${area}`);
  }
  assert.equal(new Set(allErrorCodes()).size, allErrorCodes().length, 'a code listed twice');
});

test('every code written in the source, where the type does not check it (codes read back, compared or kept as text), is known', () => {
  const source = ['core', 'pipelines', 'daemon', 'report', 'experiments', 'config', 'cli', 'bench'].flatMap((d) => files(d, '.ts'));
  const unknown = new Set<string>();
  for (const f of source) {
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](BONSAI_(?:CORE|INGEST|STORE|DAEMON|HTTP|CONFIG|REGISTRY|CLI|DATA|BENCH|DEPLOY|SPEECH)_[A-Z0-9_]+)['"`]/g)) {
      if (!isErrorCode(m[1])) unknown.add(`${m[1]} (${f})`);
    }
  }
  assert.deepEqual([...unknown].sort(), []);
});
