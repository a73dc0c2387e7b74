import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { IngestLimits } from '../../pipelines/types.ts';
import { FSDD_SPEAKERS, defaultAudioSpec, fsddDir, loadFsdd, parseWavHeader, processAudio } from '../../pipelines/audio/index.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const limits: IngestLimits = { maxFileBytes: 10_000_000, maxPixels: 1, maxAudioSeconds: 30, decodeTimeoutMs: 5000 };

test('loadFsdd parses {digit}_{speaker}_{take}.wav, splits takes 0-4 into the test set, filters and sorts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-fsdd-'));
  try {
    mkdirSync(join(dir, 'recordings'));
    const names = ['7_jackson_32.wav', '0_theo_4.wav', '0_theo_5.wav', '3_theo_0.wav', '9_jackson_49.wav', 'README.md', '10_theo_1.wav', 'x_theo_1.wav', '1_theo_2.WAV'];
    for (const n of names) writeFileSync(join(dir, 'recordings', n), '');
    const all = loadFsdd(dir);
    assert.deepEqual(
      all.map((r) => [r.digit, r.speaker, r.take, r.split]),
      [[7, 'jackson', 32, 'train'], [9, 'jackson', 49, 'train'], [0, 'theo', 4, 'test'], [0, 'theo', 5, 'train'], [3, 'theo', 0, 'test']],
    );
    assert.equal(all[0].path, join(dir, 'recordings', '7_jackson_32.wav'));
    // The recordings folder itself works too.
    assert.equal(loadFsdd(join(dir, 'recordings')).length, 5);
    assert.deepEqual(loadFsdd(dir, { split: 'test' }).map((r) => r.take), [4, 0]);
    assert.deepEqual(loadFsdd(dir, { split: 'train', speakers: ['theo'] }).map((r) => r.take), [5]);
    assert.deepEqual(loadFsdd(dir, { digits: [0] }).map((r) => r.take), [4, 5]);
    assert.deepEqual(loadFsdd(dir, { split: 'test', testTakes: 1 }).map((r) => [r.digit, r.take]), [[3, 0]]);
    assert.throws(() => loadFsdd(join(dir, 'missing')), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_FSDD_NOT_FOUND' && e.message.includes('missing'));
    mkdirSync(join(dir, 'empty'));
    assert.throws(() => loadFsdd(join(dir, 'empty')), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_FSDD_EMPTY');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fsddDir: BONSAI_FSDD_DIR, else ../shared/data/fsdd beside the repository', () => {
  assert.equal(fsddDir('/repo/main', {}), resolve('/repo/shared/data/fsdd'));
  assert.equal(fsddDir('/repo/main', { BONSAI_FSDD_DIR: '/data/fsdd' }), resolve('/data/fsdd'));
});

const dataDir = fsddDir(repoRoot);
const absent = existsSync(dataDir) ? false : `FSDD not found at ${dataDir} (set BONSAI_FSDD_DIR to run this test)`;

test('FSDD: 3,000 recordings of 6 speakers, the customary 300 / 2,700 split', { skip: absent }, () => {
  const all = loadFsdd(dataDir);
  assert.equal(all.length, 3000);
  assert.deepEqual([...new Set(all.map((r) => r.speaker))].sort(), [...FSDD_SPEAKERS]);
  const test = loadFsdd(dataDir, { split: 'test' });
  assert.equal(test.length, 300);
  assert.ok(test.every((r) => r.take <= 4));
  assert.equal(loadFsdd(dataDir, { split: 'train' }).length, 2700);
  for (const speaker of FSDD_SPEAKERS) assert.equal(test.filter((r) => r.speaker === speaker).length, 50);
});

test('FSDD: a sample of 60 real recordings (10 per speaker, every digit) goes through processAudio', { skip: absent }, async (t) => {
  const all = loadFsdd(dataDir);
  // Speaker s, digit d: take (7 * d + 11 * s) mod 50, a deterministic spread over takes.
  const sample = FSDD_SPEAKERS.flatMap((speaker, s) =>
    Array.from({ length: 10 }, (_, d) => all.find((r) => r.speaker === speaker && r.digit === d && r.take === (7 * d + 11 * s) % 50)).filter((r) => r !== undefined),
  );
  assert.equal(sample.length, 60);
  let frames = 0;
  let shortest = Infinity;
  let longest = 0;
  for (const rec of sample) {
    const bytes = readFileSync(rec.path);
    const header = parseWavHeader(bytes, limits);
    assert.deepEqual([header.sampleRate, header.channels, header.bitsPerSample], [8000, 1, 16], rec.path);
    const out = await processAudio(bytes, defaultAudioSpec, limits);
    const expected = 1 + Math.floor((header.frames - 200) / 80);
    assert.deepEqual(out.shape, [expected, 39], rec.path);
    // Spoken digits trimmed of silence: about 0.1 to 2.5 s, i.e. 10 to 250 frames.
    assert.ok(expected >= 10 && expected <= 250, `${rec.path}: ${expected} frames`);
    assert.ok(out.features.every(Number.isFinite), rec.path);
    frames += expected;
    shortest = Math.min(shortest, expected);
    longest = Math.max(longest, expected);
  }
  t.diagnostic(`60 recordings, ${frames} frames, ${shortest} to ${longest} a recording`);
});
