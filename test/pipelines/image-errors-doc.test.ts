import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckErrorCode } from '../../pipelines/check.ts';
import { ImageErrorCode } from '../../pipelines/image/codes.ts';
import { LabelErrorCode } from '../../pipelines/labels/index.ts';
import { FormatErrorCode } from '../../pipelines/sniff.ts';

const sources = ['pipelines/check.ts', 'pipelines/sniff.ts', ...readdirSync('pipelines/labels').map((f) => join('pipelines/labels', f)), ...readdirSync('pipelines/image').map((f) => join('pipelines/image', f))];

test('docs/errors-ingest-image.md lists exactly the codes of the image pipeline, labels and check', () => {
  const declared = new Set([CheckErrorCode, ImageErrorCode, LabelErrorCode, FormatErrorCode].flatMap((o) => Object.values(o) as string[]));
  const doc = readFileSync('docs/errors-ingest-image.md', 'utf8');
  const documented = new Set([...doc.matchAll(/^- `(BONSAI_[A-Z0-9_]+)` — \S/gm)].map((m) => m[1]));
  assert.deepEqual([...documented].sort(), [...declared].sort());
});

test('every code literal in these sources is a declared code', () => {
  const declared = new Set([CheckErrorCode, ImageErrorCode, LabelErrorCode, FormatErrorCode].flatMap((o) => Object.values(o) as string[]));
  for (const file of sources) {
    for (const m of readFileSync(file, 'utf8').matchAll(/'(BONSAI_INGEST_[A-Z0-9_]+)'/g)) assert.ok(declared.has(m[1]), `${file}: ${m[1]}`);
  }
});
