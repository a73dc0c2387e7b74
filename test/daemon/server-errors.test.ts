import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BonsaiError } from '../../core/errors.ts';
import { HTTP_ERRORS, HttpError, toErrorResponse } from '../../daemon/server/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function sources(path: string): string[] {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full).flatMap((name) => sources(join(path, name)));
}

/** The model loader and the mirror of a trainer's models: their codes are in docs/errors-daemon.md. */
const DAEMON_ERRORS = ['daemon/serving/loader.ts', 'daemon/serving/mirror.ts'].map((f) => join(root, f));

/** Codes used as string literals in the server, serving (the holder), metrics and auth sources. */
function codesInSource(): Set<string> {
  const files = ['daemon/server', 'daemon/serving', 'daemon/metrics', 'daemon/auth.ts'].flatMap(sources).filter((f) => f.endsWith('.ts') && !DAEMON_ERRORS.includes(f));
  const codes = new Set<string>();
  for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/'(BONSAI_[A-Z_]+)'/g)) codes.add(m[1]);
  for (const code of Object.keys(HTTP_ERRORS)) codes.add(code);
  return codes;
}

/** `- \`CODE\` — [status: ]when` lines of docs/errors-http.md. */
function documented(): Map<string, number | null> {
  const text = readFileSync(join(root, 'docs/errors-http.md'), 'utf8');
  const codes = new Map<string, number | null>();
  for (const m of text.matchAll(/^- `(BONSAI_[A-Z_]+)` — (?:(\d{3}): )?/gm)) {
    assert.ok(!codes.has(m[1]), `${m[1]} is listed twice`);
    codes.set(m[1], m[2] === undefined ? null : Number(m[2]));
  }
  return codes;
}

test('docs/errors-http.md lists exactly the codes used, with the statuses of HTTP_ERRORS', () => {
  const docs = documented();
  assert.deepEqual([...docs.keys()].sort(), [...codesInSource()].sort());
  for (const [code, status] of Object.entries(HTTP_ERRORS)) assert.equal(docs.get(code), status, code);
});

test('toErrorResponse maps typed, fastify and unknown errors', () => {
  const http = toErrorResponse(new HttpError(422, 'BONSAI_INGEST_IMAGE_CORRUPT', 'bad', { a: 1 }));
  assert.deepEqual(http, { status: 422, body: { error: { code: 'BONSAI_INGEST_IMAGE_CORRUPT', message: 'bad', details: { a: 1 } } } });
  assert.equal(toErrorResponse(new BonsaiError('BONSAI_HTTP_NO_MODEL', 'x')).status, 503);
  assert.equal(toErrorResponse(new BonsaiError('BONSAI_REGISTRY_NOT_FOUND', 'x')).status, 404);
  assert.equal(toErrorResponse(new BonsaiError('BONSAI_REGISTRY_BAD_TRANSITION', 'rejected -> promoted')).status, 409);
  const other = toErrorResponse(new BonsaiError('BONSAI_REGISTRY_LOCKED', 'held by pid 7', { pid: 7 }));
  assert.deepEqual(other, { status: 500, body: { error: { code: 'BONSAI_REGISTRY_LOCKED', message: 'held by pid 7', details: { pid: 7 } } } });
  const big = Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
  assert.deepEqual(toErrorResponse(big, { bodyLimit: 10 }), { status: 413, body: { error: { code: 'BONSAI_HTTP_BODY_TOO_LARGE', message: 'request body is larger than the limit (10 bytes)', details: { limitBytes: 10 } } } });
  const validation = Object.assign(new Error('querystring/x must be integer'), { validation: [{}], statusCode: 400 });
  assert.equal(toErrorResponse(validation).body.error.code, 'BONSAI_HTTP_BAD_REQUEST');
  const secret = toErrorResponse(new Error('password=hunter2'));
  assert.equal(secret.status, 500);
  assert.doesNotMatch(JSON.stringify(secret.body), /hunter2/);
});
