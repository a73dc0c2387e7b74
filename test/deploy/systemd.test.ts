/**
 * deploy/systemd: `systemd-analyze verify` accepts the unit without a warning,
 * the unit has the sandboxing and lifecycle settings deploy/README.md
 * promises, its readiness check (ExecStartPost, run as systemd would) finds a
 * daemon on the server.host of /etc/bonsai/bonsai.yaml (127.0.0.2, ::1) and
 * waits for the right endpoint, and the example config is a valid bonsai config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/index.ts';
import { which } from './prometheus-server.ts';

const DIR = fileURLToPath(new URL('../../deploy/systemd/', import.meta.url));
const UNIT = join(DIR, 'bonsai.service');

/** The unit's settings: section -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not a key=value line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

function seconds(value: string): number {
  const m = /^(\d+)(s|min)?$/.exec(value);
  assert.ok(m, `not a time span: ${value}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

const analyze = which('systemd-analyze');

test('systemd-analyze verify accepts bonsai.service without warnings', { skip: analyze === null ? 'systemd-analyze not installed (package systemd); skipping the unit verification' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at this Node where /usr/bin/node is absent.
    let text = readFileSync(UNIT, 'utf8');
    if (!existsSync('/usr/bin/node')) text = text.replaceAll('/usr/bin/node', process.execPath);
    const copy = join(dir, 'bonsai.service');
    writeFileSync(copy, text);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 30_000 });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, output);
    // Unknown keys and bad values are warnings with exit status 0: none may mention the unit.
    const ours = output.split('\n').filter((l) => l.includes('bonsai.service'));
    assert.deepEqual(ours, []);

    // The check is real: an unknown key is reported.
    writeFileSync(copy, text.replace('[Service]\n', '[Service]\nProtectEverything=yes\n'));
    const bad = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 30_000 });
    assert.match(`${bad.stdout}${bad.stderr}`, /bonsai\.service:\d+: Unknown key.*ProtectEverything/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit runs sandboxed as its own user, with a state directory, restarts and a long stop timeout', () => {
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service');
  assert.ok(service);
  const one = (key: string): string | undefined => service.get(key)?.at(-1);
  assert.ok(one('User') === 'bonsai' || one('DynamicUser') === 'yes', 'runs as a dedicated or dynamic user');
  assert.equal(one('StateDirectory'), 'bonsai');
  assert.equal(one('ProtectSystem'), 'strict');
  for (const key of ['NoNewPrivileges', 'PrivateTmp', 'ProtectHome', 'PrivateDevices', 'RestrictSUIDSGID']) assert.equal(one(key), 'yes', key);
  assert.notEqual(one('MemoryDenyWriteExecute'), 'yes', 'V8 needs writable code pages');
  assert.equal(one('CapabilityBoundingSet'), '');
  assert.equal(one('Restart'), 'on-failure');
  assert.ok(seconds(one('TimeoutStopSec') ?? '0') >= 60, 'time to finish requests and abort an update');
  assert.equal(one('KillMode'), 'mixed');
  assert.equal(one('Type'), 'exec');
  assert.match(one('ExecStart') ?? '', /bin\/bonsai\.js start --config \/etc\/bonsai\/bonsai\.yaml --state-dir \$\{STATE_DIRECTORY\}/);
  // The readiness check reads the config, state directory and port the daemon is given, so it asks where the daemon listens.
  const startArgs = /bin\/bonsai\.js start (.*)$/.exec(one('ExecStart') ?? '')?.[1];
  const readyArgs = /^\/usr\/bin\/node \/opt\/bonsai\/bin\/bonsai\.js ready (.*) --timeout (\d+)$/.exec(one('ExecStartPost') ?? '');
  assert.ok(startArgs !== undefined && readyArgs !== null, `ExecStartPost is not bonsai ready with ExecStart's flags: ${one('ExecStartPost')}`);
  assert.equal(readyArgs[1], startArgs);
  assert.ok(Number(readyArgs[2]) >= 240, 'time to load and warm up a model');
  assert.ok(Number(readyArgs[2]) + 30 <= seconds(one('TimeoutStartSec') ?? '0'), 'the readiness wait (and node\'s start) fits in the start timeout');
  assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The unit's Environment= lines as systemd sets them, %d (the credentials directory) as `credentials`. */
function unitEnvironment(credentials: string): Record<string, string> {
  const service = parseUnit(readFileSync(UNIT, 'utf8')).get('Service');
  return Object.fromEntries((service?.get('Environment') ?? []).map((e) => {
    const eq = e.indexOf('=');
    return [e.slice(0, eq), e.slice(eq + 1).replace('%d', credentials)];
  }));
}

/**
 * A command line of the unit as systemd would run it here: `${VAR}` from `env`, `$$` as `$`;
 * /usr/bin/node, /opt/bonsai and /etc/bonsai/bonsai.yaml are this Node, this checkout and `config`.
 */
function localLine(key: 'ExecStart' | 'ExecStartPost', env: Record<string, string>, config: string): string {
  const line = parseUnit(readFileSync(UNIT, 'utf8')).get('Service')?.get(key)?.[0] ?? '';
  return line.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? '').replaceAll('$$', '$')
    .replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/bonsai/', ROOT).replaceAll('/etc/bonsai/bonsai.yaml', config);
}

/** Runs a unit's command line (exec'd by /bin/sh, which splits it as systemd does) with `env` only; killed after `limitMs`. */
function runLine(line: string, env: Record<string, string>, limitMs: number): { child: ChildProcess; done: Promise<{ status: number | null; ms: number; output: string }> } {
  const started = Date.now();
  const child = spawn('/bin/sh', ['-c', `exec ${line}`], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...env } });
  let output = '';
  child.stdout.on('data', (b: Buffer) => { output += b.toString('utf8'); });
  child.stderr.on('data', (b: Buffer) => { output += b.toString('utf8'); });
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const done = new Promise<{ status: number | null; ms: number; output: string }>((resolve) => child.once('close', (status) => {
    clearTimeout(timer);
    resolve({ status, ms: Date.now() - started, output });
  }));
  return { child, done };
}

/** The example /etc/bonsai/bonsai.yaml with `server.host: host`, written into `dir`. */
function exampleConfig(dir: string, host: string): string {
  const text = readFileSync(join(DIR, 'bonsai.yaml'), 'utf8');
  assert.match(text, /^ {2}host: 127\.0\.0\.1$/m);
  const file = join(dir, 'bonsai.yaml');
  writeFileSync(file, text.replace(/^ {2}host: 127\.0\.0\.1$/m, `  host: "${host}"`));
  return file;
}

/**
 * An HTTP server on `host` that answers /healthz 200, and /readyz 503 until `readyAfterMs` after the
 * first /healthz; null where `host` is no address here.
 */
async function probeServer(host: string, readyAfterMs: number): Promise<{ port: number; server: Server; readyzCalls: () => number } | null> {
  let readyAt = Infinity;
  let calls = 0;
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      readyAt = Math.min(readyAt, Date.now() + readyAfterMs);
      res.writeHead(200).end('{"status":"ok"}');
    } else if (req.url === '/readyz') {
      calls += 1;
      res.writeHead(Date.now() >= readyAt ? 200 : 503).end();
    } else res.writeHead(404).end();
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, host, () => resolve(true));
  });
  if (!listening) return null;
  return { port: (server.address() as AddressInfo).port, server, readyzCalls: () => calls };
}

test('readiness: a daemon on server.host 127.0.0.2 (fresh state directory) is found by ExecStartPost; systemctl start succeeds', { skip: process.platform !== 'linux' ? 'needs 127.0.0.2 on loopback (Linux)' : false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-unit-run-'));
  const state = join(dir, 'state');
  const credentials = join(dir, 'credentials');
  mkdirSync(state);
  mkdirSync(credentials);
  writeFileSync(join(credentials, 'token'), 'unit-test-token\n');
  const free = createNetServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.2', resolve));
  const port = (free.address() as AddressInfo).port;
  await new Promise((resolve) => free.close(resolve));
  const env = { ...unitEnvironment(credentials), BONSAI_PORT: String(port), STATE_DIRECTORY: state, CREDENTIALS_DIRECTORY: credentials };
  const config = exampleConfig(dir, '127.0.0.2');
  const daemon = runLine(localLine('ExecStart', env, config), env, 110_000);
  try {
    const post = await runLine(localLine('ExecStartPost', env, config), env, 90_000).done;
    assert.equal(post.status, 0, `ExecStartPost failed (after ${post.ms} ms): ${post.output}`);
    assert.match(post.output, new RegExp(`http://127\\.0\\.0\\.2:${port} \\(/healthz: 200\\)`));
  } finally {
    daemon.child.kill('SIGTERM');
    const stopped = await daemon.done;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(stopped.status, 0, stopped.output);
  }
});

test('readiness: with a promoted model ExecStartPost waits for /readyz, on server.host ::1; nothing listening fails it', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-state-'));
  const warming = await probeServer('::1', 1500);
  try {
    if (warming === null) {
      t.skip('no IPv6 loopback here');
      return;
    }
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models', 'CURRENT'), '3\n');
    const env = { BONSAI_PORT: String(warming.port), STATE_DIRECTORY: dir };
    const b = await runLine(localLine('ExecStartPost', env, exampleConfig(dir, '::1')), env, 50_000).done;
    assert.equal(b.status, 0, b.output);
    assert.ok(warming.readyzCalls() >= 2, `waited for /readyz (${warming.readyzCalls()} calls)`);
    assert.match(b.output, new RegExp(`http://\\[::1\\]:${warming.port} \\(/healthz, /readyz: 200\\)`));

    // Nothing on the port: the start fails, naming the address it asked.
    warming.server.close();
    const line = localLine('ExecStartPost', env, exampleConfig(dir, '::1'));
    assert.match(line, / --timeout \d+$/);
    const c = await runLine(line.replace(/ --timeout \d+$/, ' --timeout 1'), env, 50_000).done;
    assert.equal(c.status, 1, c.output);
    assert.match(c.output, new RegExp(`BONSAI_CLI_NOT_READY: bonsai at http://\\[::1\\]:${warming.port} \\(server\\.host ::1\\) did not answer /healthz with 200 within 1 s; last: ECONNREFUSED`));
  } finally {
    warming?.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the example /etc/bonsai/bonsai.yaml with the unit\'s environment and flags is a valid config', () => {
  const service = parseUnit(readFileSync(UNIT, 'utf8')).get('Service');
  const env = unitEnvironment('/run/credentials/bonsai.service');
  assert.equal(env.BONSAI_SERVER__TOKEN_FILE, '/run/credentials/bonsai.service/token');
  const config = loadConfig({ file: join(DIR, 'bonsai.yaml'), env, flags: { stateDir: '/var/lib/bonsai', port: env.BONSAI_PORT } });
  assert.equal(config.stateDir, '/var/lib/bonsai');
  assert.equal(config.role, 'all');
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.tokenFile, '/run/credentials/bonsai.service/token');
  assert.equal(config.log.format, 'json');
  assert.equal(service?.get('LoadCredential')?.[0], 'token:/etc/bonsai/token');
});

test('the sysusers.d entry creates the user and group the unit runs as', () => {
  const lines = readFileSync(join(DIR, 'bonsai.sysusers'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.deepEqual(lines.map((l) => l.split(/\s+/).slice(0, 3)), [['u', 'bonsai', '-']]);
});

test('readiness: a daemon on server.host :: that is reached only over IPv4 (no ::1 here, IPv6 disabled) is found by 127.0.0.1', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-state-'));
  // A server on 127.0.0.1 stands for one on :: on a host without ::1: ::1 is refused, IPv4 answers.
  const v4 = await probeServer('127.0.0.1', 0);
  assert.ok(v4 !== null);
  try {
    const env = { BONSAI_PORT: String(v4.port), STATE_DIRECTORY: dir };
    const ok = await runLine(localLine('ExecStartPost', env, exampleConfig(dir, '::')), env, 50_000).done;
    assert.equal(ok.status, 0, ok.output);
    assert.match(ok.output, new RegExp(`bonsai serves at http://127\\.0\\.0\\.1:${v4.port} \\(/healthz: 200\\)`));
  } finally {
    v4.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readiness on server.host ::: an address that hangs does not starve the next one, and the failure names what each answered', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-state-'));
  // ::1 accepts and never answers; 127.0.0.1 on the same port answers.
  const hang = createNetServer(() => undefined);
  const hangOk = await new Promise<boolean>((resolve) => {
    hang.once('error', () => resolve(false));
    hang.listen(0, '::1', () => resolve(true));
  });
  if (!hangOk) {
    t.skip('no IPv6 loopback here');
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const port = (hang.address() as AddressInfo).port;
  const v4 = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
  try {
    const v4Ok = await new Promise<boolean>((resolve) => {
      v4.once('error', () => resolve(false));
      v4.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!v4Ok) {
      t.skip(`port ${port} is taken on 127.0.0.1`);
      return;
    }
    const env = { BONSAI_PORT: String(port), STATE_DIRECTORY: dir };
    const line = localLine('ExecStartPost', env, exampleConfig(dir, '::')).replace(/ --timeout \d+$/, ' --timeout 6');
    const ok = await runLine(line, env, 50_000).done;
    assert.equal(ok.status, 0, ok.output);
    assert.match(ok.output, new RegExp(`bonsai serves at http://127\\.0\\.0\\.1:${port} `));
    v4.close();
    const failed = await runLine(line.replace(/ --timeout \d+$/, ' --timeout 3'), env, 50_000).done;
    assert.equal(failed.status, 1, failed.output);
    assert.match(failed.output, /last: ::1: no answer in \d+ ms; 127\.0\.0\.1: ECONNREFUSED/);
  } finally {
    hang.close();
    v4.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
