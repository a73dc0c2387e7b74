import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BonsaiError } from '../../core/errors.ts';
import { defaultConfig, loadConfig, parseConfig, LEAF_KEYS, ENV_ALIASES, FLAG_KEYS } from '../../config/index.ts';
import { MAX_CONFIG_FILE_BYTES } from '../../config/load.ts';
import { firstEmptyMelFilter, melFilterWarning, LENET5_MIN_SIDE, MAX_DELTA_WINDOW, MAX_FFT_SIZE, MAX_IMAGE_SIDE, MAX_PREQUENTIAL_WINDOW, MAX_SAMPLE_RATE, MAX_TIMER_MS, MAX_TIMER_SEC, MAX_TRIGGER_SEC, MIN_SAMPLE_RATE } from '../../config/schema.ts';
import { MAX_OUTPUT_SIDE } from '../../pipelines/image/spec.ts';
import { defaultAudioSpec, validateAudioSpec } from '../../pipelines/audio/spec.ts';
import * as fft from '../../pipelines/audio/fft.ts';
import { firstEmptyFilter, melFilterbank } from '../../pipelines/audio/mel.ts';
import * as wav from '../../pipelines/audio/wav.ts';
import { LeNet5 } from '../../core/models/lenet5.ts';

const here = new URL('.', import.meta.url);
const repo = (p: string): string => new URL(`../../${p}`, here).pathname;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bonsai-config-'));
}

function fails(fn: () => unknown, code: string, ...needles: string[]): BonsaiError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BonsaiError, `expected a BonsaiError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const n of needles) assert.ok(caught.message.includes(n), `message lacks ${JSON.stringify(n)}:\n${caught.message}`);
  return caught;
}

test('config/default.yaml spells out exactly the schema defaults, every key present', () => {
  const raw: unknown = parse(readFileSync(repo('config/default.yaml'), 'utf8'));
  assert.deepEqual(raw, defaultConfig());
});

test('the defaults the issue fixes', () => {
  const c = defaultConfig();
  assert.equal(c.stateDir, './var');
  assert.equal(c.algorithm.growthPercentile, 40);
  assert.equal(c.algorithm.pruneFraction, 0.05);
  assert.equal(c.algorithm.newDataEpochs, 15);
  assert.equal(c.algorithm.allDataEpochs, 20);
  assert.equal(c.triggers.pendingCount, null);
  assert.equal(c.triggers.pendingFraction, 0.1);
  assert.equal(c.registry.keep, 5);
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.server.port, 8080);
  assert.equal(c.server.tokenEnv, 'BONSAI_TOKEN');
  assert.equal(c.metrics.prequentialWindow, 500);
  assert.deepEqual(c.ingest.splits, { validation: 0.1, test: 0.1 });
});

test('precedence: defaults < file < env < flags', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'bonsai.yaml');
    writeFileSync(file, 'server:\n  port: 9001\n  host: 0.0.0.0\nmodel:\n  name: lenet5\nalgorithm:\n  growthPercentile: 35\n');
    const fileOnly = loadConfig({ file, env: {} });
    assert.equal(fileOnly.server.port, 9001);
    assert.equal(fileOnly.server.host, '0.0.0.0');
    assert.equal(fileOnly.server.bodyLimitBytes, defaultConfig().server.bodyLimitBytes, 'a partial section keeps the other defaults');

    const withEnv = loadConfig({ file, env: { BONSAI_PORT: '9002', BONSAI_MODEL: 'resnet18', BONSAI_ALGORITHM__GROWTH_PERCENTILE: '45' } });
    assert.equal(withEnv.server.port, 9002);
    assert.equal(withEnv.server.host, '0.0.0.0');
    assert.equal(withEnv.model.name, 'resnet18');
    assert.equal(withEnv.algorithm.growthPercentile, 45);

    const withFlags = loadConfig({ file, env: { BONSAI_PORT: '9002', BONSAI_UPDATE_THRESHOLD: '50' }, flags: { port: '9003', model: 'ds2', updateThreshold: '1000' } });
    assert.equal(withFlags.server.port, 9003);
    assert.equal(withFlags.model.name, 'ds2');
    assert.equal(withFlags.triggers.pendingCount, 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the config file comes from --config, then file, then BONSAI_CONFIG', () => {
  const dir = tmp();
  try {
    const [a, b, c] = ['a.yaml', 'b.yaml', 'c.json'].map((n) => join(dir, n));
    writeFileSync(a, 'server: { port: 1001 }');
    writeFileSync(b, 'server: { port: 1002 }');
    writeFileSync(c, '{ "server": { "port": 1003 } }');
    assert.equal(loadConfig({ file: b, env: { BONSAI_CONFIG: c }, flags: { config: a } }).server.port, 1001);
    assert.equal(loadConfig({ file: b, env: { BONSAI_CONFIG: c } }).server.port, 1002);
    assert.equal(loadConfig({ env: { BONSAI_CONFIG: c } }).server.port, 1003);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('paths: relative to the file for file values, to cwd for env and flags', () => {
  const dir = tmp();
  try {
    mkdirSync(join(dir, 'etc'));
    const file = join(dir, 'etc', 'bonsai.yaml');
    writeFileSync(file, 'stateDir: ../state\nserver:\n  tokenFile: token.txt\n');
    const c = loadConfig({ file, env: {}, cwd: '/srv' });
    assert.equal(c.stateDir, join(dir, 'state'));
    assert.equal(c.server.tokenFile, join(dir, 'etc', 'token.txt'));
    assert.equal(loadConfig({ file, env: {}, cwd: '/srv', flags: { stateDir: 'data' } }).stateDir, '/srv/data');
    assert.equal(loadConfig({ env: { BONSAI_STATE_DIR: 'x' }, cwd: '/srv' }).stateDir, '/srv/x');
    assert.equal(loadConfig({ env: {}, cwd: '/srv' }).stateDir, '/srv/var');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('paths: a leading ~ is the home directory, from the file, env and flags alike', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'bonsai.yaml');
    writeFileSync(file, 'stateDir: ~/bonsai\nserver:\n  tokenFile: "~"\n');
    // Before, the file's ~/bonsai was a folder named ~ beside the file.
    const c = loadConfig({ file, env: {}, cwd: '/srv' });
    assert.equal(c.stateDir, join(homedir(), 'bonsai'));
    assert.equal(c.server.tokenFile, homedir());
    assert.equal(loadConfig({ env: { BONSAI_STATE_DIR: '~/x', BONSAI_SERVER__TOKEN_FILE: '~/.bonsai/token' }, cwd: '/srv' }).server.tokenFile, join(homedir(), '.bonsai', 'token'));
    assert.equal(loadConfig({ env: {}, cwd: '/srv', flags: { stateDir: '~/y' } }).stateDir, join(homedir(), 'y'));
    // Only a leading ~ alone or before a slash: ~user and a ~ further on are names.
    assert.equal(loadConfig({ env: {}, cwd: '/srv', flags: { stateDir: '~bob/x' } }).stateDir, '/srv/~bob/x');
    assert.equal(loadConfig({ env: {}, cwd: '/srv', flags: { stateDir: 'a/~/b' } }).stateDir, '/srv/a/~/b');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainerUrl is an http:// or https:// URL: another scheme is refused at load with the value', () => {
  // Before, any URL passed (file:///x, ftp://h) and the server failed at each request to its trainer.
  for (const url of ['file:///x', 'ftp://trainer/', 'javascript:alert(1)', 'mailto:ops', 'http:/one-slash']) {
    fails(() => parseConfig({ trainerUrl: url }), 'BONSAI_CONFIG_INVALID', 'trainerUrl: must be an http:// or https:// URL', JSON.stringify(url));
  }
  fails(() => loadConfig({ env: { BONSAI_TRAINER_URL: 'file:///etc/passwd' } }), 'BONSAI_CONFIG_INVALID', 'trainerUrl', '"file:///etc/passwd" (from env BONSAI_TRAINER_URL)');
  fails(() => loadConfig({ env: {}, flags: { trainerUrl: 'ftp://t' } }), 'BONSAI_CONFIG_INVALID', 'trainerUrl', '"ftp://t" (from flag --trainer-url)');
  for (const url of ['http://user:pw@trainer:8080', 'https://token@trainer/']) fails(() => parseConfig({ trainerUrl: url }), 'BONSAI_CONFIG_INVALID', 'trainerUrl: must not hold a user name or password', 'server.tokenFile or BONSAI_TOKEN');
  // The password is not printed, nor kept in the error's details.
  const err = (() => { try { loadConfig({ env: { BONSAI_TRAINER_URL: 'http://u:s3cret@t:8080' } }); } catch (e) { return e as BonsaiError; } return null; })();
  assert.ok(err !== null);
  assert.match(err.message, /got "http:\/\/u:\*\*\*@t:8080" \(from env BONSAI_TRAINER_URL\)/);
  assert.doesNotMatch(JSON.stringify({ message: err.message, details: err.details }), /s3cret/);
  // A password with '@' or '/' in it, and a value without a scheme, are masked whole too.
  for (const [url, shown] of [['http://bonsai:p@ss-Word-9@trainer:8080', 'http://bonsai:***@trainer:8080'], ['bonsai:s3cretPW@trainer:8080', 'bonsai:***@trainer:8080'], ['https://s3cret-token@trainer/', 'https://***@trainer/']]) {
    const e = (() => { try { loadConfig({ env: { BONSAI_TRAINER_URL: url } }); } catch (x) { return x as BonsaiError; } return null; })();
    assert.ok(e !== null, url);
    assert.ok(e.message.includes(`got ${JSON.stringify(shown)}`), e.message);
    assert.doesNotMatch(JSON.stringify({ message: e.message, details: e.details }), /ss-Word|s3cret/);
  }
  // What holds no credentials is shown as it is: an @ in a URL's path (without a scheme's //, user:x@host is taken for credentials).
  for (const url of ['ftp://trainer:8080/models/resnet@v2', 'ftp://registry:5000/bonsai@sha256:abcd']) {
    const e = (() => { try { loadConfig({ env: { BONSAI_TRAINER_URL: url } }); } catch (x) { return x as BonsaiError; } return null; })();
    assert.ok(e?.message.includes(`got ${JSON.stringify(url)}`), e?.message);
  }
  for (const url of ['http://trainer:8080', 'https://trainer.example/bonsai/', 'HTTP://T:1', 'http://[::1]:8080']) assert.equal(parseConfig({ trainerUrl: url }).trainerUrl, url);
  assert.equal(parseConfig({ trainerUrl: null }).trainerUrl, null);
});

test('an unknown key is rejected with its path, a suggestion and its source', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'bonsai.yaml');
    writeFileSync(file, 'server:\n  prot: 9000\nalgorithm:\n  growthPercentile: 40\n');
    const err = fails(() => loadConfig({ file, env: {} }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'server.prot', 'did you mean "port"', `file ${file}`, '9000');
    assert.deepEqual((err.details.problems as { path: string }[]).map((p) => p.path), ['server.prot']);
    fails(() => parseConfig({ model: { image: { heigth: 28 } } }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'model.image.heigth', 'did you mean "height"');
    fails(() => parseConfig({ sever: {} }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'sever', 'did you mean "server"');
    fails(() => loadConfig({ env: { BONSAI_SERVER__PROT: '1' } }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'BONSAI_SERVER__PROT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid values: every problem with its path, actual value and source, in one error', () => {
  const err = fails(() => loadConfig({ env: { BONSAI_PORT: 'http', BONSAI_ALGORITHM__GROWTH_PERCENTILE: '60' }, flags: { updateThreshold: '0' } }),
    'BONSAI_CONFIG_INVALID', 'server.port', '"http"', 'env BONSAI_PORT', 'algorithm.growthPercentile', '60', 'triggers.pendingCount', 'flag --update-threshold');
  assert.equal((err.details.problems as unknown[]).length, 3);
  // Unknown keys mixed with bad values: INVALID, listing both.
  fails(() => parseConfig({ server: { port: -1, prot: 1 } }), 'BONSAI_CONFIG_INVALID', 'server.port', 'server.prot');
  fails(() => parseConfig({ model: { name: 'vgg' } }), 'BONSAI_CONFIG_INVALID', 'model.name', '"vgg"');
  fails(() => parseConfig({ algorithm: { pruneFraction: 0.06 } }), 'BONSAI_CONFIG_INVALID', 'algorithm.pruneFraction', '0.06', 'between 0.03 and 0.05');
  fails(() => parseConfig({ algorithm: { pruneFraction: 0.05, pruneFractionMax: 0.95 } }), 'BONSAI_CONFIG_INVALID', 'algorithm.pruneFractionMax', 'between 0.03 and 0.9');
});

test('a share given in percent is refused with the value and the unit', () => {
  const err = fails(() => parseConfig({ algorithm: { pruneFraction: 5, pruneFractionMax: 40 } }), 'BONSAI_CONFIG_NOT_A_FRACTION',
    'algorithm.pruneFraction: is 5; it is a fraction in (0, 1], e.g. 0.05 for 5 %', 'algorithm.pruneFractionMax: is 40; it is a fraction in (0, 1], e.g. 0.4 for 40 %');
  assert.deepEqual((err.details.problems as { kind: string }[]).map((p) => p.kind), ['not_a_fraction', 'not_a_fraction']);
  fails(() => loadConfig({ env: { BONSAI_ALGORITHM__PRUNE_FRACTION: '5' } }), 'BONSAI_CONFIG_NOT_A_FRACTION', 'env BONSAI_ALGORITHM__PRUNE_FRACTION');
  fails(() => parseConfig({ ingest: { splits: { validation: 10 } } }), 'BONSAI_CONFIG_NOT_A_FRACTION', 'ingest.splits.validation: is 10; it is a fraction in [0, 1], e.g. 0.1 for 10 %');
  fails(() => parseConfig({ gate: { tolerance: 2 } }), 'BONSAI_CONFIG_NOT_A_FRACTION', 'gate.tolerance: is 2');
  // Mixed with another problem: INVALID, listing both.
  fails(() => parseConfig({ algorithm: { pruneFraction: 5 }, server: { port: -1 } }), 'BONSAI_CONFIG_INVALID', 'is 5; it is a fraction', 'server.port');
});

test('cross-field rules name the field to change', () => {
  fails(() => parseConfig({ model: { audio: { hopMs: 30 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.hopMs', 'windowMs (25)');
  fails(() => parseConfig({ model: { audio: { sampleRate: 16000, windowMs: 40 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.fftSize', '640 samples');
  fails(() => parseConfig({ model: { audio: { highHz: 5000 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.highHz', '4000');
  fails(() => parseConfig({ model: { audio: { fftSize: 300 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.fftSize', 'power of two');
  fails(() => parseConfig({ ingest: { splits: { validation: 0.5, test: 0.5 } } }), 'BONSAI_CONFIG_INVALID', 'ingest.splits');
  assert.equal(parseConfig({ model: { audio: { sampleRate: 16000, windowMs: 40, fftSize: 0 } } }).model.audio.fftSize, 0);
  fails(() => parseConfig({ model: { audio: { lowHz: 4000 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.lowHz', '(4000)');
});

test('settings that become timers or due dates are bounded: no timer overflows, no date leaves Date\'s range', () => {
  // Node fires a timer of more than 2^31 - 1 ms after 1 ms; the scheduler prints due dates (now + the span) with toISOString.
  const timers: Array<[string, Record<string, unknown>, number]> = [
    ['ingest.limits.decodeTimeoutMs', { ingest: { limits: { decodeTimeoutMs: 0 } } }, MAX_TIMER_MS],
    ['ingest.awaitWriteFinishMs', { ingest: { awaitWriteFinishMs: 0 } }, MAX_TIMER_MS],
    ['ingest.pollIntervalMs', { ingest: { pollIntervalMs: 0 } }, Math.floor(MAX_TIMER_MS / 3)],
    ['ingest.reconcileIntervalSec', { ingest: { reconcileIntervalSec: 0 } }, MAX_TIMER_SEC],
    ['triggers.minIntervalSec', { triggers: { minIntervalSec: 0 } }, MAX_TRIGGER_SEC],
    ['triggers.maxWaitSec', { triggers: { maxWaitSec: 0 } }, MAX_TRIGGER_SEC],
  ];
  for (const [key, shape, max] of timers) {
    const path = key.split('.');
    const withValue = (v: number): Record<string, unknown> => {
      const input = structuredClone(shape);
      let o = input;
      for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
      o[path[path.length - 1]] = v;
      return input;
    };
    const read = (c: unknown): unknown => path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);
    assert.equal(read(parseConfig(withValue(max))), max, key);
    fails(() => parseConfig(withValue(max + 1)), 'BONSAI_CONFIG_INVALID', key, `must be at most ${max}`, String(max + 1));
  }
  assert.ok(3 * Math.floor(MAX_TIMER_MS / 3) <= MAX_TIMER_MS, 'the watcher\'s first wait, three poll intervals, fits a timer');
  assert.equal(MAX_TIMER_SEC * 1000 <= MAX_TIMER_MS, true);
  // The audit's value: 1e13 s made status() throw a RangeError and killed the daemon after a failed update.
  fails(() => loadConfig({ env: { BONSAI_TRIGGERS__MIN_INTERVAL_SEC: '1e13', BONSAI_TRIGGERS__MAX_WAIT_SEC: '1e13' } }), 'BONSAI_CONFIG_INVALID',
    'triggers.minIntervalSec', 'triggers.maxWaitSec', '10 years', '10000000000000');
  assert.doesNotThrow(() => new Date(Date.now() + MAX_TRIGGER_SEC * 1000).toISOString());
});

test('model.audio: the config accepts exactly the specs the audio pipeline accepts', () => {
  // Each a change of the defaults; the config's own stricter rules (hopMs <= windowMs, deltaWindow <= 16) are left out.
  const cases: Array<Record<string, number | boolean>> = [
    {}, { sampleRate: 3000 }, { sampleRate: MIN_SAMPLE_RATE }, { sampleRate: MAX_SAMPLE_RATE, fftSize: 0 }, { sampleRate: MAX_SAMPLE_RATE + 1, fftSize: 0 },
    { windowMs: 0.25, hopMs: 0.125 }, { windowMs: 0.05, hopMs: 0.05 }, { windowMs: 0.0625, hopMs: 0.0625 }, { hopMs: 0.05 }, { hopMs: 0.0625 },
    { windowMs: 0.25, hopMs: 0.125, fftSize: 2 }, { windowMs: 0.25, hopMs: 0.125, fftSize: 4 }, { windowMs: 0.25, hopMs: 0.125, fftSize: 0 },
    { fftSize: 4294967808 }, { fftSize: 2 ** 32 }, { fftSize: 384 }, { fftSize: 128 }, { fftSize: 0 },
    { melFilters: 256 }, { coefficients: 27 }, { lowHz: 4000 }, { highHz: 4001 }, { highHz: 3000, lowHz: 2999 },
    { preEmphasis: 0 }, { deltaWindow: MAX_DELTA_WINDOW }, { deltas: false },
    // The largest FFT, given or taken for the window (8 s and 9 s at 8 kHz: 64000 and 72000 samples).
    { fftSize: MAX_FFT_SIZE }, { fftSize: 2 * MAX_FFT_SIZE }, { windowMs: 8000, fftSize: 0 }, { windowMs: 9000, fftSize: 0 }, { windowMs: 9000, fftSize: 2 * MAX_FFT_SIZE },
    // Mel filters against the FFT's bins: 5 bins of an 8-point FFT; at 8 kHz and 512 points 191 filters from 20 Hz each take a bin, 192 leave one without.
    { windowMs: 1, hopMs: 1, fftSize: 8, melFilters: 5, coefficients: 5 }, { windowMs: 1, hopMs: 1, fftSize: 8, melFilters: 6, coefficients: 5 },
    { windowMs: 1, hopMs: 1, fftSize: 0, melFilters: 6, coefficients: 5 }, { melFilters: 191 }, { melFilters: 192 }, { fftSize: 256, melFilters: 95 }, { fftSize: 256, melFilters: 96 },
    { lowHz: 0, melFilters: 100 }, { lowHz: 300, melFilters: 100 }, { sampleRate: 16000, fftSize: 0, melFilters: 126 }, { sampleRate: 16000, fftSize: 0, melFilters: 127 },
  ];
  const accepted = (check: () => unknown): boolean => {
    try {
      check();
      return true;
    } catch {
      return false;
    }
  };
  for (const change of cases) {
    const spec = { ...defaultAudioSpec, ...change };
    assert.equal(accepted(() => parseConfig({ model: { audio: spec } })), accepted(() => validateAudioSpec(spec)), JSON.stringify(change));
  }
  assert.deepEqual([MIN_SAMPLE_RATE, MAX_SAMPLE_RATE], [wav.MIN_SAMPLE_RATE, wav.MAX_SAMPLE_RATE]);
  // The audit's values, each refused with the key and the value.
  fails(() => parseConfig({ model: { audio: { sampleRate: 3000 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.sampleRate', '3000');
  fails(() => parseConfig({ model: { audio: { fftSize: 4294967808 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.fftSize', 'power of two', '4294967808');
  assert.equal(fft.isPowerOfTwo(4294967808), false, 'the pipeline\'s own check reads all 53 bits too');
  assert.equal(fft.isPowerOfTwo(2 ** 40), true);
  fails(() => parseConfig({ model: { audio: { windowMs: 0.05, hopMs: 0.05 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.windowMs: gives 0 samples at 8000 Hz', 'model.audio.hopMs');
  // 2^32 passed (the FFT's tables would take tens of GiB); an FFT has at most 2^16 points, given or taken for the window.
  assert.equal(MAX_FFT_SIZE, fft.MAX_FFT_SIZE);
  fails(() => parseConfig({ model: { audio: { fftSize: 2 ** 32 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.fftSize: must be at most 65536, the largest FFT', '4294967296');
  fails(() => parseConfig({ model: { audio: { windowMs: 9000, fftSize: 0 } } }), 'BONSAI_CONFIG_INVALID',
    'model.audio.windowMs: gives 72000 samples at 8000 Hz, for which fftSize 0 takes an FFT of 131072, more than the largest, 65536', '9000');
  assert.throws(() => new fft.RealFft(2 * MAX_FFT_SIZE), (e: unknown) => e instanceof BonsaiError && e.message.includes('131072'));
  // More mel filters than FFT bins, or filters narrower than the bins' spacing: filters without a bin, whose log energy is
  // the floor in every frame. Such specs loaded before, and samples and models made with them must still decode: said, not refused.
  const tooMany = parseConfig({ model: { audio: { windowMs: 1, hopMs: 1, fftSize: 8, melFilters: 10, coefficients: 5 } } }).model.audio;
  assert.match(melFilterWarning(tooMany) ?? '', /^model\.audio\.melFilters 10 is more than the 5 bins of fftSize 8: filters without a bin carry nothing/);
  assert.match(melFilterWarning(parseConfig({ model: { audio: { melFilters: 192 } } }).model.audio) ?? '',
    /^model\.audio\.melFilters 192 with fftSize 512 at 8000 Hz leaves filter 9 \(.* without an FFT bin \(bins are 15\.63 Hz apart\)/);
  assert.match(melFilterWarning(parseConfig({ model: { audio: { sampleRate: 16000, melFilters: 128 } } }).model.audio) ?? '', /leaves filter 4 /);
  assert.equal(melFilterWarning(defaultConfig().model.audio), null);
  assert.equal(melFilterWarning(parseConfig({ model: { audio: { melFilters: 191 } } }).model.audio), null);
  // A longest recording shorter than one window refuses every recording (too long, or shorter than a window).
  fails(() => parseConfig({ model: { modality: 'audio', audio: { windowMs: 25 } }, ingest: { limits: { maxAudioSeconds: 0.02 } } }), 'BONSAI_CONFIG_INVALID',
    'ingest.limits.maxAudioSeconds: is shorter than one analysis window (model.audio.windowMs 25 ms)', 'got 0.02');
  assert.equal(parseConfig({ model: { modality: 'image' }, ingest: { limits: { maxAudioSeconds: 0.02 } } }).ingest.limits.maxAudioSeconds, 0.02);
  // A window of 1e8 frames blocked the event loop on one recording.
  fails(() => parseConfig({ model: { audio: { deltaWindow: 1e8 } } }), 'BONSAI_CONFIG_INVALID', 'model.audio.deltaWindow', '100000000', '<=16');
});

test('model.audio: the config finds the same filters without an FFT bin as the audio pipeline, and those are the empty filters of its filterbank', () => {
  let empty = 0;
  for (const sampleRate of [4000, 8000, 16000, 44100]) {
    for (const fftSize of [8, 64, 256, 512]) {
      for (const [lowHz, highHz] of [[0, sampleRate / 2], [20, sampleRate / 2], [300, 3400 < sampleRate / 2 ? 3400 : sampleRate / 2]]) {
        for (const filters of [1, 2, 5, 13, 26, 40, 64, 100, 129]) {
          const pipeline = firstEmptyFilter(sampleRate, fftSize, filters, lowHz, highHz);
          const config = firstEmptyMelFilter(sampleRate, fftSize, filters, lowHz, highHz);
          const bank = melFilterbank(sampleRate, fftSize, filters, lowHz, highHz).weights.findIndex((w) => w.length === 0);
          const at = JSON.stringify({ sampleRate, fftSize, lowHz, highHz, filters });
          assert.equal(pipeline, bank, at);
          assert.equal(config === null ? -1 : config.filter - 1, pipeline, at);
          if (pipeline >= 0) empty++;
        }
      }
    }
  }
  assert.ok(empty > 50, `the grid holds banks with empty filters (${empty})`);
});

test('metrics.prequentialWindow is bounded: the daemon allocates it at start', () => {
  assert.equal(parseConfig({ metrics: { prequentialWindow: MAX_PREQUENTIAL_WINDOW } }).metrics.prequentialWindow, 1_000_000);
  // 1e10 passed and then the daemon died at start with a raw RangeError (Invalid typed array length).
  fails(() => loadConfig({ env: { BONSAI_METRICS__PREQUENTIAL_WINDOW: '1e10' } }), 'BONSAI_CONFIG_INVALID',
    'metrics.prequentialWindow', '10000000000', 'env BONSAI_METRICS__PREQUENTIAL_WINDOW');
});

test('triggers.cron is checked at load, by node-cron as the scheduler checks it', () => {
  assert.equal(parseConfig({ triggers: { cron: '*/5 * * * * *' } }).triggers.cron, '*/5 * * * * *');
  assert.equal(parseConfig({ triggers: { cron: '0 0 29 2 *' } }).triggers.cron, '0 0 29 2 *');
  // 30 February passed `bonsai check` and failed only after start, with BONSAI_DAEMON_BAD_CRON.
  for (const cron of ['0 0 30 2 *', '60 * * * *', 'a b c d e', '*/5 * * * * * *']) {
    fails(() => loadConfig({ env: { BONSAI_TRIGGERS__CRON: cron } }), 'BONSAI_CONFIG_INVALID', 'triggers.cron', 'not a valid node-cron expression', JSON.stringify(cron));
  }
});

test('model.image.range: the span high - low must be finite', () => {
  assert.deepEqual(parseConfig({ model: { image: { range: [-1e300, 1e300] } } }).model.image.range, [-1e300, 1e300]);
  // [-1e308, 1e308] passed, and every image went to quarantine with NaN features.
  fails(() => parseConfig({ model: { image: { range: [-1e308, 1e308] } } }), 'BONSAI_CONFIG_INVALID', 'model.image.range', 'finite', 'is Infinity', '[-1e+308,1e+308]');
});

test('model.inputShape: images are [height, width, channels]; LeNet-5 needs 12x12', () => {
  // [784] and [100] passed, and then every update failed with BONSAI_DAEMON_NO_TRAINING_DATA.
  fails(() => parseConfig({ model: { inputShape: [100] } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape: must be [height, width, channels] for images', '[100]');
  fails(() => parseConfig({ model: { name: 'lenet5', inputShape: [784] } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape', '[784]');
  fails(() => parseConfig({ model: { inputShape: [28, 28, 2] } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape', '1 or 3 channels');
  fails(() => parseConfig({ model: { inputShape: [28, 9000, 1] } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape', `at most ${MAX_IMAGE_SIDE}`);
  fails(() => parseConfig({ model: { name: 'lenet5', modality: 'audio', inputShape: [40, 13] } }), 'BONSAI_CONFIG_INVALID', 'for LeNet-5');
  assert.deepEqual(parseConfig({ model: { inputShape: [32, 32, 3] } }).model.inputShape, [32, 32, 3]);
  assert.deepEqual(parseConfig({ model: { modality: 'audio', inputShape: [100] } }).model.inputShape, [100], 'a classifier of recordings takes any fixed shape');
  // 8x8 images passed, and every update failed (flops NaN in the manifest: BONSAI_REGISTRY_BAD_MANIFEST).
  fails(() => parseConfig({ model: { name: 'lenet5', image: { height: 8, width: 8 } } }), 'BONSAI_CONFIG_INVALID', 'model.image: is 8x8; LeNet-5 needs at least 12x12');
  fails(() => parseConfig({ model: { name: 'lenet5', inputShape: [28, 11, 1] } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape: is 28x11');
  assert.equal(parseConfig({ model: { name: 'lenet5', image: { height: 12, width: 12 } } }).model.image.height, 12);
  // The bound is LeNet-5's own: one pixel less leaves its first dense layer no inputs.
  const flat = (side: number): number => new LeNet5({ arch: 'lenet5', inputShape: [side, side, 1], numClasses: 10, seed: 1 }).fcs[0].inUnits;
  assert.equal(flat(LENET5_MIN_SIDE - 1), 0);
  assert.ok(flat(LENET5_MIN_SIDE) > 0);
});

test('the result is deeply frozen', () => {
  const c = loadConfig({ env: {} });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server) && Object.isFrozen(c.model.image.range) && Object.isFrozen(c.ingest.limits));
  assert.throws(() => {
    (c.server as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (c.model.image.range as unknown as number[]).push(2);
  }, TypeError);
  assert.equal(c.server.port, 8080);
});

test('environment values are reported as sent: a number beyond float64, a list with a bad entry', () => {
  const huge = fails(() => loadConfig({ env: { BONSAI_UPDATE_THRESHOLD: '1e400' } }), 'BONSAI_CONFIG_INVALID', 'triggers.pendingCount', '1e400');
  assert.doesNotMatch(huge.message, /got null/);
  fails(() => loadConfig({ env: { BONSAI_MODEL__INPUT_SHAPE: '28,x,1' } }), 'BONSAI_CONFIG_INVALID', 'model.inputShape.1');
  assert.deepEqual(loadConfig({ env: { BONSAI_MODEL__INPUT_SHAPE: '28, 28, 1' } }).model.inputShape, [28, 28, 1]);
});

test('NaN and infinities from YAML are reported as themselves, not as null', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'bonsai.yaml');
    writeFileSync(file, 'server:\n  port: .nan\ntriggers:\n  minIntervalSec: .inf\nmodel:\n  image:\n    range: [-.inf, 1]\n');
    const err = fails(() => loadConfig({ file, env: {} }), 'BONSAI_CONFIG_INVALID', 'server.port', 'got NaN', 'triggers.minIntervalSec', 'got Infinity', 'model.image.range.0', 'got -Infinity');
    assert.doesNotMatch(err.message, /got null/);
    writeFileSync(file, 'server:\n  prot: [.nan, 1, -.inf]\n');
    fails(() => loadConfig({ file, env: {} }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'server.prot', 'got [NaN,1,-Infinity]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file errors: unreadable, syntax, not a mapping; commented-out sections are empty', () => {
  const dir = tmp();
  try {
    fails(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }), 'BONSAI_CONFIG_FILE_UNREADABLE', 'ENOENT', 'missing.yaml');
    fails(() => loadConfig({ file: dir, env: {} }), 'BONSAI_CONFIG_FILE_UNREADABLE', 'EISDIR');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  port: 1\n   host: x\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_FILE_SYNTAX', 'line 2, column 9');
    writeFileSync(bad, 'server: {port: 1}\nserver: {port: 2}\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_FILE_SYNTAX');
    writeFileSync(bad, '- a\n- b\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_INVALID', 'mapping');
    // Hostile files: an alias inside its own anchor, an alias bomb, prototype keys (YAML and JSON).
    writeFileSync(bad, 'server:\n  a: &a [*a]\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_FILE_SYNTAX', 'server.a.0 contains itself');
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghij'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`)].join('\n');
    writeFileSync(bad, bomb);
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_FILE_SYNTAX', 'cannot be read as data');
    writeFileSync(bad, '__proto__:\n  polluted: 1\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_UNKNOWN_KEY', '__proto__');
    const json = join(dir, 'bad.json');
    writeFileSync(json, '{"server": {"constructor": {"prototype": {"x": 1}}}}');
    fails(() => loadConfig({ file: json, env: {} }), 'BONSAI_CONFIG_UNKNOWN_KEY', 'server.constructor');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // A size the image pipeline cannot produce is a config error, not a quarantine of every image.
    writeFileSync(bad, 'model:\n  image:\n    height: 100000\n');
    fails(() => loadConfig({ file: bad, env: {} }), 'BONSAI_CONFIG_INVALID', 'model.image.height');
    assert.equal(MAX_IMAGE_SIDE, MAX_OUTPUT_SIDE, 'the config allows the sizes the image pipeline produces');
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# nothing\nserver:\n  # port: 1\n');
    assert.equal(loadConfig({ file: empty, env: {} }).server.port, 8080);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the config file must be a regular file of at most 1 MiB, checked before reading', () => {
  const dir = tmp();
  try {
    // A FIFO without a writer blocked the loader for good (and /dev/zero read until memory ran out).
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const err = fails(() => loadConfig({ file: fifo, env: {} }), 'BONSAI_CONFIG_FILE_UNREADABLE', 'fifo.yaml is a FIFO, not a regular file');
    assert.equal(err.details.type, 'FIFO');
    fails(() => loadConfig({ file: '/dev/zero', env: {} }), 'BONSAI_CONFIG_FILE_UNREADABLE', '/dev/zero is a character device');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES - 3)}\n`);
    assert.equal(loadConfig({ file: big, env: {} }).server.port, 8080, 'exactly 1 MiB is read');
    writeFileSync(big, `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES - 2)}\n`);
    const large = fails(() => loadConfig({ file: big, env: {} }), 'BONSAI_CONFIG_FILE_TOO_LARGE', 'big.yaml has 1048577 bytes', 'at most 1048576');
    assert.deepEqual(large.details, { file: big, bytes: MAX_CONFIG_FILE_BYTES + 1, maxBytes: MAX_CONFIG_FILE_BYTES });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('env text is coerced by the type of its key; other BONSAI_* variables are not keys', () => {
  const c = loadConfig({
    env: {
      BONSAI_POLLING: 'true', BONSAI_MODEL__INPUT_SHAPE: '28,28,1', BONSAI_MODEL__IMAGE__RANGE: '[-1, 1]', BONSAI_THREADS: 'null',
      BONSAI_TRIGGERS__CRON: '0 3 * * *', BONSAI_TOKEN: 'secret', BONSAI_LOG_LEVEL: 'debug', BONSAI_HOST: '',
    },
  });
  assert.equal(c.ingest.polling, true);
  assert.deepEqual(c.model.inputShape, [28, 28, 1]);
  assert.deepEqual(c.model.image.range, [-1, 1]);
  assert.equal(c.backend.threads, null);
  assert.equal(c.triggers.cron, '0 3 * * *');
  assert.equal(c.log.level, 'debug');
  assert.equal(c.server.host, '127.0.0.1', 'an empty variable counts as unset');
  // The generic variable wins over the alias of the same key.
  assert.equal(loadConfig({ env: { BONSAI_PORT: '1', BONSAI_SERVER__PORT: '2' } }).server.port, 2);
});

test('every alias and flag names a real key', () => {
  const keys = new Set(LEAF_KEYS.map((k) => k.dotted));
  for (const key of Object.values(ENV_ALIASES)) assert.ok(keys.has(key), key);
  for (const { key } of Object.values(FLAG_KEYS)) assert.ok(keys.has(key), key);
});

test('the examples load', () => {
  const mnist = loadConfig({ file: repo('config/examples/mnist.yaml'), env: {} });
  assert.equal(mnist.model.name, 'lenet5');
  assert.equal(mnist.model.image.resize, 'mnist');
  const fsdd = loadConfig({ file: repo('config/examples/fsdd.yaml'), env: {} });
  assert.equal(fsdd.model.modality, 'audio');
  assert.equal(fsdd.model.audio.deltas, true);
  assert.equal(fsdd.model.audio.fftSize, 256);
});
