import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../core/errors.ts';
import { ENV_ALIASES, LEAF_KEYS, defaultConfig } from '../../config/index.ts';

const repo = (p: string): string => new URL(`../../${p}`, import.meta.url).pathname;

test('docs/configuration.md lists every key with its default and environment variable', () => {
  const doc = readFileSync(repo('docs/configuration.md'), 'utf8');
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  for (const key of LEAF_KEYS) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${key.dotted}\` |`));
    assert.ok(row, `no row for ${key.dotted}`);
    const value = key.path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], defaults);
    assert.ok(row.includes(`\`${JSON.stringify(value)}\``), `${key.dotted}: default ${JSON.stringify(value)} missing in\n${row}`);
    assert.ok(row.includes(`\`${key.env}\``), `${key.dotted}: ${key.env} missing`);
  }
  for (const [name, key] of Object.entries(ENV_ALIASES)) assert.ok(doc.includes(`| \`${name}\` | \`${key}\` |`), name);
});

test('docs/errors-config-registry.md lists exactly the config and registry codes of core/error-codes.ts', () => {
  const doc = readFileSync(repo('docs/errors-config-registry.md'), 'utf8');
  const listed = new Set([...doc.matchAll(/^- `(BONSAI_[A-Z_]+)` — /gm)].map((m) => m[1]));
  const codes: readonly string[] = [...ERROR_CODES.config, ...ERROR_CODES.registry];
  assert.ok(codes.length >= 4);
  assert.deepEqual(codes.filter((c) => !listed.has(c)), [], 'in core/error-codes.ts but not documented');
  assert.deepEqual([...listed].filter((c) => !codes.includes(c)), [], 'documented but not in core/error-codes.ts');
});
