/**
 * No absolute server path in what a client without the API token reads: `/v1/status`
 * (the state directory, error messages of the last update or swap) and error answers.
 * With the token, `/v1/status` is whole; the log always is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { PathRedactor } from '../../daemon/server/index.ts';
import { FAKE_STATE_DIR, harness } from './server-fakes.ts';

const TOKEN = 's3cret';
const auth = { authorization: `Bearer ${TOKEN}` };

/** Every string in a JSON value, keys left out. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** The strings of `value` that hold an absolute path: one starting with '/', or naming the state directory or another absolute path of two segments. */
function absolutePaths(value: unknown): string[] {
  return strings(value).filter((s) => s.startsWith('/') || s.includes(FAKE_STATE_DIR) || /(^|\s)\/[\w.-]+\/[\w.-]+/.test(s));
}

/** The status of a daemon whose last update failed on a file under its state directory, and which serves from /opt. */
function daemonStatus(): Record<string, unknown> {
  return {
    state: 'running',
    stateDir: FAKE_STATE_DIR,
    trainerUrl: 'http://trainer:8080',
    lastUpdate: { id: 'u-3', outcome: 'failed', error: new BonsaiError('BONSAI_DAEMON_STORAGE_FULL', `cannot write ${FAKE_STATE_DIR}/models/.staging-4/weights.bin: no space left on device`, { path: `${FAKE_STATE_DIR}/models/.staging-4/weights.bin` }) },
    followProblem: { code: 'BONSAI_REGISTRY_UNREADABLE', message: 'cannot read /opt/bonsai/models/CURRENT: permission denied', since: '2026-01-09T10:00:00.000Z' },
    store: { byLabel: { 'a/b': 1 } },
  };
}

test('GET /v1/status without the token names no server path; with it, the state directory and the messages are whole', async () => {
  const { app } = await harness({ token: TOKEN, status: daemonStatus, paths: { stateDir: FAKE_STATE_DIR } });
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic eDp5' }]) {
    const res = await app.inject({ method: 'GET', url: '/v1/status', headers });
    assert.equal(res.statusCode, 200);
    const body = res.json() as Record<string, unknown> & { lastUpdate: { error: { message: string; details: { path: string } } }; followProblem: { message: string } };
    assert.deepEqual(absolutePaths(body), [], JSON.stringify(body));
    assert.equal('stateDir' in body, false);
    // What is not a path stays: URLs, the error's code and the rest of its message, relative names.
    assert.equal(body.trainerUrl, 'http://trainer:8080');
    assert.equal(body.lastUpdate.error.message, 'cannot write <stateDir>/models/.staging-4/weights.bin: no space left on device');
    assert.equal(body.lastUpdate.error.details.path, '<stateDir>/models/.staging-4/weights.bin');
    assert.equal(body.followProblem.message, 'cannot read <path>/CURRENT: permission denied');
    assert.deepEqual(body.store, { byLabel: { 'a/b': 1 } });
  }
  const whole = (await app.inject({ method: 'GET', url: '/v1/status', headers: auth })).json() as Record<string, unknown>;
  assert.equal(whole.stateDir, FAKE_STATE_DIR);
  assert.match(JSON.stringify(whole), /\/opt\/bonsai\/models\/CURRENT/);
});

test('without a token configured, /v1/status names no server path for anyone', async () => {
  const { app } = await harness({ status: daemonStatus, paths: { stateDir: FAKE_STATE_DIR } });
  const body = (await app.inject({ method: 'GET', url: '/v1/status', headers: auth })).json() as Record<string, unknown>;
  assert.deepEqual(absolutePaths(body), [], JSON.stringify(body));
});

test('GET /v1/models without the token names no server path in a version\'s reason; with it, the reason is whole', async () => {
  const { app, registry } = await harness({ token: TOKEN, paths: { stateDir: FAKE_STATE_DIR } });
  // As the updater writes it for a candidate that passed the gate and failed to load.
  registry.reasons[2] = `passed the gate but failed to load: BONSAI_MODEL_UNREADABLE: cannot read the model in ${FAKE_STATE_DIR}/models/2: EIO`;
  const body = (await app.inject({ method: 'GET', url: '/v1/models' })).json() as { versions: { version: number; reason?: string }[] };
  assert.deepEqual(absolutePaths(body), [], JSON.stringify(body));
  assert.equal(body.versions[1].reason, 'passed the gate but failed to load: BONSAI_MODEL_UNREADABLE: cannot read the model in <stateDir>/models/2: EIO');
  assert.deepEqual(body.versions.map((v) => v.version), [1, 2, 3]);
  const whole = (await app.inject({ method: 'GET', url: '/v1/models', headers: auth })).json() as { versions: { reason?: string }[] };
  assert.equal(whole.versions[1].reason, registry.reasons[2]);
});

test('an error answer names no server path; the error as thrown reaches the log', async () => {
  const h = await harness({ token: TOKEN, paths: { stateDir: FAKE_STATE_DIR } });
  // A 422 from the decoder (a BonsaiError whose message and details name files).
  const res = await h.app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.from('PATH') });
  assert.equal(res.statusCode, 422);
  const body = res.json() as { error: { code: string; message: string; details: Record<string, unknown> } };
  assert.deepEqual(absolutePaths(body), [], JSON.stringify(body));
  assert.equal(body.error.code, 'BONSAI_INGEST_IMAGE_CORRUPT');
  assert.equal(body.error.message, 'cannot decode the image: <stateDir>/uploads/upload-1.png is truncated (see <stateDir>/store.db)');
  assert.equal(body.error.details.bytes, 4);
  assert.equal(h.redacted.length, 1);
  assert.match((h.redacted[0] as Error).message, new RegExp(`${FAKE_STATE_DIR}/uploads/upload-1.png`));

  // A 500 from the registry (another area's code, passed through with its message).
  h.registry.list = async () => {
    throw new BonsaiError('BONSAI_REGISTRY_CURRENT_INVALID', `cannot read ${FAKE_STATE_DIR}/models/CURRENT: unexpected end of JSON input`, { file: `${FAKE_STATE_DIR}/models/CURRENT` });
  };
  const listed = await h.app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(listed.statusCode, 500);
  assert.deepEqual(absolutePaths(listed.json()), [], listed.body);
  assert.match(listed.body, /<stateDir>\/models\/CURRENT: unexpected end of JSON input/);
  assert.match((h.errors.at(-1) as Error).message, new RegExp(`${FAKE_STATE_DIR}/models/CURRENT`));

  // A route of this API in a message is not a server path.
  const missing = await h.app.inject({ method: 'GET', url: '/v1/nothing/here' });
  assert.match(missing.json<{ error: { message: string } }>().error.message, /no route GET \/v1\/nothing\/here/);
});

test('the redactor: roots by name (the longest wins), other absolute paths shortened, URLs, routes and words with a slash kept', () => {
  const r = new PathRedactor({ home: '/home/ann', cwd: '/home/ann/bonsai', stateDir: '/home/ann/bonsai/var/', root: '/' });
  const cases: Array<[string, string]> = [
    ['/home/ann/bonsai/var', '<stateDir>'],
    ['open \'/home/ann/bonsai/var/store.db\': EACCES', 'open \'<stateDir>/store.db\': EACCES'],
    ['(see /home/ann/bonsai/config.json)', '(see <cwd>/config.json)'],
    ['/home/ann/.cache/x and /home/annie/y', '<home>/.cache/x and <path>/y'],
    ['cannot read /mnt/volume/models/CURRENT.', 'cannot read <path>/CURRENT.'],
    ['model artifact weights/part-1.bin', 'model artifact weights/part-1.bin'],
    ['http://trainer:8080/v1/models/3/files/x and https://h/a/b', 'http://trainer:8080/v1/models/3/files/x and https://h/a/b'],
    ['answered 500 to /v1/updates', 'answered 500 to /v1/updates'],
    ['send image/png or audio/wav; 3/4 done; and/or', 'send image/png or audio/wav; 3/4 done; and/or'],
    ['a single segment /data stays', 'a single segment /data stays'],
    ['no path here', 'no path here'],
    ['http://[fd00::5]/bonsai/api and http://[::1]:8080/v1/status', 'http://[fd00::5]/bonsai/api and http://[::1]:8080/v1/status'],
    ['store.db:/data/bonsai/store.db and path:/srv/x/y', 'store.db:<path>/store.db and path:<path>/y'],
    ['a file URL file:///srv/a/b', 'a file URL file://<path>/b'],
  ];
  for (const [text, expected] of cases) assert.equal(r.text(text), expected, text);
  const err = new BonsaiError('BONSAI_REGISTRY_NOT_FOUND', 'model version 9 does not exist in /home/ann/bonsai/var/models', { dir: '/home/ann/bonsai/var/models', version: 9 });
  assert.deepEqual(r.value({ error: err, n: 1, list: ['/srv/a/b'] }), {
    value: { error: { code: 'BONSAI_REGISTRY_NOT_FOUND', message: 'model version 9 does not exist in <stateDir>/models', details: { dir: '<stateDir>/models', version: 9 } }, n: 1, list: ['<path>/b'] },
    changed: true,
  });
  assert.deepEqual(r.value({ a: 'b/c' }), { value: { a: 'b/c' }, changed: false });
});
