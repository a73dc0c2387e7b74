/**
 * End to end with a speech model: real FSDD recordings dropped into
 * `inbox/<digit-word>/` (and one with a sidecar transcript) are stored as
 * variable-length MFCCs; an update asked over HTTP trains a tiny ds2 with CTC in
 * the trainer child process; the promoted version answers a WAV posted to
 * `/v1/predict`, and `bonsai predict <file.wav>`, with a transcript.
 * Skipped with a message where the FSDD folder is absent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { fsddDir, loadFsdd, type FsddRecording } from '../../pipelines/audio/index.ts';
import { tempStateDir, testConfig, waitFor } from './e2e-helpers.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dir = fsddDir(repoRoot);
const skip = existsSync(dir) ? false : `FSDD recordings not found at ${dir} (set BONSAI_FSDD_DIR)`;
const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const TOKEN = 'speech-e2e-token';

/** Copies a recording beside the inbox folder, then renames it in (as producers should). */
function dropInto(folder: string, name: string, from: string): void {
  mkdirSync(folder, { recursive: true });
  const tmp = join(folder, `.${name}.tmp`);
  copyFileSync(from, tmp);
  renameSync(tmp, join(folder, name));
}

function bonsai(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/bonsai.js'), ...args], { env: { ...process.env, BONSAI_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('a ds2 daemon learns from dropped FSDD recordings and answers a posted WAV with a transcript and the promoted version', { skip }, async () => {
  const recordings = loadFsdd(dir, { split: 'train', speakers: ['jackson'], digits: [1, 2, 6] });
  const training = recordings.filter((r) => r.take >= 5 && r.take < 9);
  const sidecar = recordings.find((r) => r.digit === 2 && r.take === 9) as FsddRecording;
  const stemSidecar = recordings.find((r) => r.digit === 1 && r.take === 9) as FsddRecording;
  const held = loadFsdd(dir, { split: 'test', speakers: ['jackson'], digits: [6] })[0];
  const stateDir = tempStateDir('bonsai-e2e-speech-');
  const config = testConfig(stateDir, {
    model: { modality: 'audio', name: 'ds2' },
    algorithm: { newDataEpochs: 2, allDataEpochs: 2, growthInterval: 1, batchSize: 8, augment: false },
    // Updates start only when asked (POST /v1/updates).
    triggers: { pendingCount: 1000, initialCount: 1000 },
  });
  const log = new MemoryLog();
  const d = await startDaemon(config, {
    model: { options: { filters: '2,2,2', hidden: 6, gateHidden: 6, rnnLayers: 1, kernelTime: 3, kernelFreq: 3 } },
    update: { maxPruneIterations: 1, initialDensity: 0.5, retrainEpochs: 0.5, optimizer: { kind: 'adam', learningRate: 0.01 } },
    token: TOKEN, log, defaultMetrics: false,
  });
  try {
    assert.deepEqual((await d.status()).model, { arch: 'ds2', inputShape: [39], modality: 'audio' });
    const inbox = join(stateDir, 'inbox');
    for (const r of training) dropInto(join(inbox, WORDS[r.digit]), `${r.digit}_${r.speaker}_${r.take}.wav`, r.path);
    // A recording in the inbox root with its transcript beside it: the transcript is written first.
    writeFileSync(join(inbox, 'said.wav.txt'), 'Two\n');
    dropInto(inbox, 'said.wav', sidecar.path);
    // The other sidecar name the daemon takes: `x.txt` beside `x.wav`.
    writeFileSync(join(inbox, 'spoken.txt'), 'One\n');
    dropInto(inbox, 'spoken.wav', stemSidecar.path);
    const total = training.length + 2;
    await waitFor(`${total} stored recordings`, () => d.store.counts().total === total, 30_000);
    const stored = d.store.db.prepare<[], { label: string | null; transcript: string | null; shape: string; modality: string }>('SELECT label, transcript, shape, modality FROM samples').all();
    assert.ok(stored.every((s) => s.modality === 'audio' && JSON.parse(s.shape)[1] === 39));
    assert.ok(new Set(stored.map((s) => JSON.parse(s.shape)[0] as number)).size > 1, 'recordings keep their own lengths');
    assert.equal(stored.filter((s) => s.transcript === 'two').length, 1);
    assert.equal(stored.filter((s) => s.transcript === 'one').length, 1);
    await waitFor('sidecars to leave the inbox with their recordings', () => !existsSync(join(inbox, 'spoken.txt')) && !existsSync(join(inbox, 'said.wav.txt')), 10_000);

    const asked = await fetch(`${d.url}/v1/updates`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'speech e2e' }) });
    assert.equal(asked.status, 202, await asked.clone().text());
    await waitFor('the first update', () => d.updater.records().length >= 1 && !d.scheduler.busy, 50_000, 100);
    const record = d.updater.last()!;
    assert.equal(record.outcome, 'promoted', `${record.verdict} ${JSON.stringify(record.error ?? {})}`);
    assert.equal(record.version, 1);
    assert.equal(record.sizes?.skipped, 0);
    assert.equal(d.holder.version, 1);
    const manifest = (await d.registry.get(1)).manifest;
    assert.equal(manifest.extra?.task, 'speech');
    const vocabulary = manifest.extra?.vocabulary as string[];
    assert.ok(vocabulary.length > 0 && vocabulary.every((w) => ['one', 'two', 'six'].includes(w)), JSON.stringify(vocabulary));

    const res = await fetch(`${d.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'audio/wav' }, body: readFileSync(held.path) });
    const body = await res.json() as { version?: number; modality?: string; input?: string; transcript?: unknown };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.version, 1);
    assert.equal(body.modality, 'audio');
    assert.equal(body.input, 'audio');
    assert.equal(typeof body.transcript, 'string');
    const words = (body.transcript as string).split(' ').filter(Boolean);
    assert.ok(words.every((w) => vocabulary.includes(w)), `"${body.transcript}" is not made of the words ${vocabulary.join(', ')}`);

    const cli = await bonsai(['predict', held.path, '--server', d.url]);
    assert.equal(cli.status, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { version: number; transcript: string };
    assert.equal(printed.version, 1);
    assert.equal(printed.transcript, body.transcript, 'the same recording gets the same transcript');
    // A few dozen recordings cannot resolve a loss of a point: the daemon says so, and nothing else goes wrong.
    assert.ok(log.events.some((e) => e.event === 'update.validation_small'));
    assert.deepEqual(log.events.filter((e) => (e.level === 'error' || e.level === 'warn') && e.event !== 'update.validation_small'), []);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
