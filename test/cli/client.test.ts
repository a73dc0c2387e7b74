import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';

function bonsai(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/bonsai.js', ...args], { env: { ...process.env, BONSAI_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('the client commands call the daemon routes, send the token to mutating ones and report server errors by code', async () => {
  const seen: Array<{ method: string; url: string; auth?: string; type?: string; bytes: number }> = [];
  const app = Fastify();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.addHook('onRequest', async (req) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], bytes: Number(req.headers['content-length'] ?? 0) });
  });
  app.post('/v1/predict', async () => ({ version: 3, label: '7' }));
  app.get('/v1/models', async () => ({ current: 3, versions: [] }));
  app.post('/v1/models/:version/promote', async (req, reply) => (req.headers.authorization === 'Bearer s3cret' ? { version: 2 } : reply.code(401).send({ error: { code: 'BONSAI_HTTP_UNAUTHORIZED', message: 'bad token' } })));
  app.post('/v1/rollback', async () => ({ version: 1 }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-cli-client-'));
  try {
    const png = join(dir, 'digit.png');
    await writeFile(png, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const p = await bonsai(['predict', png, '--server', url]);
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(JSON.parse(p.stdout), { version: 3, label: '7' });
    assert.equal(seen.at(-1)?.type, 'image/png');
    assert.equal(seen.at(-1)?.bytes, 4);
    const l = await bonsai(['models', 'list', '--server', url]);
    assert.equal(JSON.parse(l.stdout).current, 3);
    const denied = await bonsai(['models', 'promote', '2', '--server', url], { BONSAI_TOKEN: 'wrong' });
    assert.equal(denied.status, 1);
    assert.match(denied.stderr, /BONSAI_CLI_SERVER_ERROR: .*401.*BONSAI_HTTP_UNAUTHORIZED/);
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 's3cret\n');
    const ok = await bonsai(['models', 'promote', '2', '--server', url, '--token-file', tokenFile]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(seen.at(-1)?.auth, 'Bearer s3cret');
    assert.equal((await bonsai(['models', 'promote', 'x2', '--server', url])).status, 2);
    const down = await bonsai(['status', '--server', 'http://127.0.0.1:9']);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /BONSAI_CLI_SERVER_UNREACHABLE/);
  } finally {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing file, a missing token file or a server that is not an http URL is a coded error with the value, not a stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-cli-args-'));
  try {
    const missing = join(dir, 'missing.png');
    const cases: Array<{ args: string[]; env?: Record<string, string>; out: RegExp; status: number }> = [
      { args: ['predict', missing, '--server', 'http://127.0.0.1:9'], out: /BONSAI_CLI_BAD_ARGUMENT: cannot read the file ".*missing\.png": no such file/, status: 2 },
      { args: ['predict', dir + '/', '--server', 'http://127.0.0.1:9'], out: /BONSAI_CLI_BAD_ARGUMENT: cannot tell the content type/, status: 2 },
      { args: ['update', '--server', 'http://127.0.0.1:9', '--token-file', join(dir, 'nope')], out: /BONSAI_CLI_BAD_ARGUMENT: cannot read the token file ".*nope": no such file/, status: 2 },
      // A ~ that the shell leaves (--token-file=~/x) is the home directory, as in the config.
      { args: ['update', '--server', 'http://127.0.0.1:9', '--token-file=~/nope'], env: { HOME: dir }, out: new RegExp(`cannot read the token file "${join(dir, 'nope')}": no such file`), status: 2 },
      { args: ['status', '--server', 'notaurl'], out: /BONSAI_CLI_BAD_OPTION: the server must be an http:\/\/ or https:\/\/ URL, got "notaurl"/, status: 2 },
      { args: ['status'], env: { BONSAI_SERVER: 'file:///etc/passwd' }, out: /BONSAI_CLI_BAD_OPTION: .*got "file:\/\/\/etc\/passwd" \(from \$BONSAI_SERVER\)/, status: 2 },
    ];
    for (const c of cases) {
      const r = await bonsai(c.args, c.env);
      assert.match(r.stderr, c.out, `${c.args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${c.args.join(' ')}: no stack trace`);
      assert.equal(r.status, c.status, `${c.args.join(' ')}: exit status`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bonsai models promote --offline refuses a state directory that does not exist, is a file or holds no models/, exit 2, and creates nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bonsai-cli-offline-'));
  try {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const config = join(dir, 'bonsai.yaml');
    await writeFile(config, 'stateDir: ./typo-from-config\n');
    const promote = ['models', 'promote', '1', '--offline'];
    const cases: Array<{ args: string[]; env?: Record<string, string>; out: RegExp }> = [
      // The audit's case: before, /typo/state and its models/ were created (here under the temp folder).
      { args: [...promote, '--state-dir', join(dir, 'typo', 'state')], out: /BONSAI_CLI_BAD_ARGUMENT: the state directory ".*\/typo\/state" \(from --state-dir\) does not exist; an offline command works on a daemon's state directory and creates none/ },
      { args: [...promote, '--state-dir', file], out: /BONSAI_CLI_BAD_ARGUMENT: the state directory ".*\/a-file" \(from --state-dir\) is not a directory/ },
      { args: [...promote, '--state-dir', empty], out: /BONSAI_CLI_BAD_ARGUMENT: the state directory ".*\/empty" \(from --state-dir\) holds no models\/ folder/ },
      { args: [...promote, '--config', config], out: /BONSAI_CLI_BAD_ARGUMENT: the state directory ".*\/typo-from-config" \(from the config's stateDir\) does not exist/ },
      // A ~ that the shell leaves (--state-dir=~/x) is the home directory, as in the config.
      { args: [...promote, '--state-dir=~/nowhere'], env: { HOME: dir }, out: new RegExp(`the state directory "${join(dir, 'nowhere')}" \\(from --state-dir\\) does not exist`) },
    ];
    for (const c of cases) {
      const r = await bonsai(c.args, c.env);
      assert.match(r.stderr, c.out, `${c.args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${c.args.join(' ')}: no stack trace`);
      assert.equal(r.status, 2, `${c.args.join(' ')}: exit status`);
    }
    assert.equal(existsSync(join(dir, 'typo')), false, 'no state directory made');
    assert.equal(existsSync(join(dir, 'typo-from-config')), false);
    assert.equal(existsSync(join(dir, 'nowhere')), false);
    assert.deepEqual(await readdir(empty), [], 'no models/ or lock file made in an existing folder');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
