/**
 * deploy/systemd: `systemd-analyze verify` accepts the unit without a warning,
 * the unit has the sandboxing and lifecycle settings deploy/README.md
 * promises, its readiness script waits for the right endpoint, and the example
 * config is a valid bonsai config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
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
  assert.match(one('ExecStartPost') ?? '', /\/readyz/);
  assert.ok(seconds(one('TimeoutStartSec') ?? '0') >= 240, 'the readiness wait fits in the start timeout');
  assert.equal(unit.get('Install')?.get('WantedBy')?.[0], 'multi-user.target');
});

/** An HTTP server that answers /healthz 200, and /readyz 503 until `readyAfterMs`. */
async function probeServer(readyAfterMs: number): Promise<{ port: number; server: Server; readyzCalls: () => number }> {
  const start = Date.now();
  let calls = 0;
  const server = createServer((req, res) => {
    if (req.url === '/healthz') res.writeHead(200).end('{"status":"ok"}');
    else if (req.url === '/readyz') {
      calls += 1;
      res.writeHead(Date.now() - start >= readyAfterMs ? 200 : 503).end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : 0, server, readyzCalls: () => calls };
}

/** Runs ExecStartPost's script as systemd would: `$$` is `$`, `${VAR}` is substituted. */
async function runReadiness(env: Record<string, string>): Promise<{ status: number | null; ms: number }> {
  const line = parseUnit(readFileSync(UNIT, 'utf8')).get('Service')?.get('ExecStartPost')?.[0] ?? '';
  const m = /^\/bin\/sh -c '(.*)'$/.exec(line);
  assert.ok(m, `ExecStartPost is not /bin/sh -c '...': ${line}`);
  const script = m[1].replace(/\$\{(\w+)\}/g, (_, name: string) => env[name] ?? '').replaceAll('$$', '$');
  const started = Date.now();
  const child = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { status, ms: Date.now() - started };
}

test('readiness: with a promoted model the start waits for /readyz; on a fresh state directory /healthz suffices', { skip: which('curl') === null ? 'curl not installed' : false, timeout: 30_000 }, async () => {
  const state = mkdtempSync(join(tmpdir(), 'bonsai-state-'));
  const fresh = await probeServer(60_000);
  const warming = await probeServer(1500);
  try {
    const a = await runReadiness({ BONSAI_PORT: String(fresh.port), STATE_DIRECTORY: state });
    assert.equal(a.status, 0);
    assert.equal(fresh.readyzCalls(), 0, 'no model yet: /readyz is not awaited');

    mkdirSync(join(state, 'models'));
    writeFileSync(join(state, 'models', 'CURRENT'), '3\n');
    const b = await runReadiness({ BONSAI_PORT: String(warming.port), STATE_DIRECTORY: state });
    assert.equal(b.status, 0);
    assert.ok(warming.readyzCalls() >= 2, `waited for /readyz (${warming.readyzCalls()} calls)`);
    assert.ok(b.ms >= 1000, `returned after ${b.ms} ms, before the model was warm`);
  } finally {
    fresh.server.close();
    warming.server.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('the example /etc/bonsai/bonsai.yaml with the unit\'s environment and flags is a valid config', () => {
  const service = parseUnit(readFileSync(UNIT, 'utf8')).get('Service');
  // Environment= lines as systemd sets them, with %d (the credentials directory) expanded.
  const env = Object.fromEntries((service?.get('Environment') ?? []).map((e) => {
    const eq = e.indexOf('=');
    return [e.slice(0, eq), e.slice(eq + 1).replace('%d', '/run/credentials/bonsai.service')];
  }));
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
