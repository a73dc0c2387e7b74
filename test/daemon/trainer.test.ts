/** The trainer: the data of an update, training and publishing a candidate, loading it to serve, and the child process's errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { BonsaiError } from '../../core/errors.ts';
import { loadModel } from '../../core/serialize/index.ts';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { registryLoader } from '../../daemon/serving/loader.ts';
import { readUpdateData, startTrainer, trainCandidate, type TrainJob } from '../../daemon/trainer/index.ts';
import { decide } from '../../daemon/trainer/gate.ts';
import { updateConfig } from '../../daemon/daemon.ts';
import { noLeaks } from '../helpers/tensors.ts';
import { FAST_UPDATE, LABELS, pixels, SIDE, tempStateDir, testConfig, waitFor } from './e2e-helpers.ts';

const id = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Stores `n` synthetic 8x8 samples, seeds from `first`, classes round-robin. */
function fill(store: SampleStore, first: number, n: number): void {
  for (let seed = first; seed < first + n; seed++) {
    const k = seed % 4;
    const features = Float32Array.from(pixels(k, seed), (v) => v / 255);
    store.addSample(id(`s${seed}`), { modality: 'image', features, shape: [SIDE, SIDE, 1] }, { label: LABELS[k] }, `${LABELS[k]}/s${seed}.png`);
  }
}

function job(stateDir: string, upToSeq: number, champion: number | null): TrainJob {
  return {
    id: `u-test-${upToSeq}`, trigger: 'manual', stateDir, upToSeq, champion,
    model: { arch: 'mlp', inputShape: [SIDE, SIDE, 1], options: { hidden: '16' } }, modality: 'image',
    update: updateConfig(testConfig(stateDir), FAST_UPDATE), backend: { name: 'cpu', threads: null }, driftBins: 5,
  };
}

test('the data of an update: pending and all training samples, validation, test, as of the snapshot; other shapes skipped', () => {
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    fill(store, 0, 60);
    store.markTrained({ upToSeq: 40 }, 1);
    const snapshot = store.lastSeq();
    fill(store, 60, 10); // after the snapshot: not in this update
    store.addSample(id('odd'), { modality: 'image', features: new Float32Array(4), shape: [2, 2, 1] }, { label: 'a' }, 'a/odd.png');
    const data = readUpdateData(store, snapshot, [SIDE, SIDE, 1]);
    const splits = store.db.prepare<[number], { split: string; n: number; pending: number }>('SELECT split, count(*) AS n, sum(trained_version IS NULL) AS pending FROM samples WHERE seq <= ? GROUP BY split').all(snapshot);
    const by = Object.fromEntries(splits.map((s) => [s.split, s]));
    assert.equal(data.allData.n, by.train.n);
    assert.equal(data.newData.n, by.train.pending);
    assert.equal(data.validation.n, by.validation?.n ?? 0);
    assert.equal(data.test.n, by.test?.n ?? 0);
    assert.equal(data.allData.n + data.validation.n + data.test.n, 60);
    assert.equal(data.skipped, 0);
    assert.deepEqual(data.labels, LABELS);
    assert.deepEqual(data.allData.shape, [SIDE, SIDE, 1]);
    // The features and labels are the stored ones, in arrival order.
    const first = store.getSample(id('s0'))!;
    if (first.split === 'train') {
      assert.deepEqual(data.allData.x.subarray(0, 64), first.features);
      assert.equal(data.allData.y[0], 0);
    }
    const all = readUpdateData(store, store.lastSeq(), [SIDE, SIDE, 1]);
    assert.equal(all.skipped, 1);
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('trainCandidate publishes a measured candidate; the next update grows from it; the loader serves what was trained', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    fill(store, 0, 48);
    const phases: string[] = [];
    const first = await noLeaks(() => trainCandidate(job(stateDir, store.lastSeq(), null), { onProgress: (p) => { if (p.kind === 'phase') phases.push(p.phase); } }));
    assert.deepEqual(phases, ['load', 'growth-all', 'prune', 'evaluate', 'publish']);
    assert.equal(first.version, 1);
    assert.equal(first.parent, null);
    assert.equal(first.championError, null);
    assert.ok(first.candidateError <= 0.25, `error ${first.candidateError}`);
    assert.deepEqual(first.labels, LABELS);
    assert.equal(first.layers.reduce((n, l) => n + l.live, 0), first.liveParams);
    const registry = await openRegistry(join(stateDir, 'models'));
    const v1 = (await registry.get(1)).manifest;
    assert.equal(v1.state, 'candidate');
    assert.equal(v1.metrics.validationError, first.candidateError);
    assert.equal(v1.samplesSeen, first.sizes.allData);
    assert.equal(Object.values(v1.parameters).reduce((n, p) => n + p.live, 0), first.liveParams);
    assert.deepEqual((v1.extra as { labels: string[] }).labels, LABELS);
    assert.ok((v1.extra as { driftReference: { classes: number[] } }).driftReference.classes.length === 4);
    await registry.promote(1, 'test');
    store.markTrained({ upToSeq: store.lastSeq() }, 1);

    fill(store, 100, 20);
    const second = await noLeaks(() => trainCandidate(job(stateDir, store.lastSeq(), 1)));
    assert.equal(second.version, 2);
    assert.equal(second.parent, 1);
    assert.equal(typeof second.championError, 'number');
    assert.ok(second.sizes.newData > 0 && second.sizes.newData < second.sizes.allData);
    assert.equal((await registry.get(2)).manifest.parent, 1);
    assert.ok((second.cost.phases['growth-new']?.sampleEpochs ?? 0) > 0, 'no growth on the new data');

    // The loader answers exactly what the saved network computes.
    await noLeaks(async () => {
      const loaded = await registryLoader(registry, 'image')(2);
      const { model } = await loadModel((await registry.get(2)).dir);
      try {
        assert.deepEqual(loaded.labels, LABELS);
        assert.deepEqual(loaded.inputShape, [SIDE, SIDE, 1]);
        await loaded.warmUp();
        const x = Float32Array.from(pixels(2, 7), (v) => v / 255);
        const batch = new Float32Array([...x, ...x]);
        const got = await loaded.predict(batch, 2);
        const want = tf.tidy(() => model.predict(tf.tensor(batch, [2, SIDE, SIDE, 1])).dataSync() as Float32Array);
        assert.equal(got.length, 8);
        got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6));
      } finally {
        loaded.dispose();
        model.dispose();
      }
    });
    // A version whose artifacts changed on disk is never loaded.
    appendFileSync(join((await registry.get(1)).dir, 'weights.bin'), Buffer.from([1]));
    await assert.rejects(registryLoader(registry, 'image')(1), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_MODEL_CORRUPT' && /weights\.bin/.test(e.message));
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('the child process reports its errors by code, and kill() aborts it', async () => {
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  store.close();
  try {
    const progress: string[] = [];
    const empty = startTrainer({ job: job(stateDir, 0, null), onProgress: (p) => progress.push(p.phase), stdio: 'ignore' });
    assert.ok(empty.pid !== undefined);
    await assert.rejects(empty.result, (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_NO_TRAINING_DATA' && /no training samples/.test(e.message));
    assert.deepEqual(progress, ['load']);

    const killed = startTrainer({ job: job(stateDir, 0, null), stdio: 'ignore' });
    killed.kill('daemon stopping');
    await assert.rejects(killed.result, (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_UPDATE_ABORTED' && /daemon stopping/.test(e.message));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

/** Whether process `pid` still runs (a zombie, dead but not yet reaped by its new parent, does not). */
function running(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // Field 3, after the parenthesised command name (which may hold spaces), is the state.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

const PARENT = fileURLToPath(new URL('../fixtures/trainer-parent.ts', import.meta.url));

/**
 * Starts test/fixtures/trainer-parent.ts with `arg`, waits until its child works, SIGKILLs the
 * parent and returns how many seconds the orphaned child lived on (at most `limitSeconds`, then
 * it is killed here and the test fails). Kills whatever is left in any case.
 */
async function orphanLifetime(arg: string, limitSeconds: number): Promise<number> {
  const parent = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), PARENT, arg], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => parent.once('exit', (_code, signal) => resolve(signal)));
  let pid: number | null = null;
  try {
    pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      parent.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /TRAINING (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      parent.once('exit', (code) => reject(new Error(`the parent exited with ${code} before its child worked: ${out}`)));
    });
    assert.ok(running(pid), 'the child works');
    parent.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    const t0 = Date.now();
    const child = pid;
    await waitFor(`the orphaned child ${child} to exit`, () => !running(child), limitSeconds * 1000, 20);
    return (Date.now() - t0) / 1000;
  } finally {
    parent.kill('SIGKILL');
    if (pid !== null && running(pid)) process.kill(pid, 'SIGKILL');
  }
}

test('a trainer child whose parent is killed (SIGKILL) mid-training exits within seconds and publishes nothing', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  fill(store, 0, 48);
  const upToSeq = store.lastSeq();
  store.close();
  try {
    // An update that trains for far longer than the test runs (the audit's was a real update, hours).
    const slow: TrainJob = { ...job(stateDir, upToSeq, null), update: updateConfig(testConfig(stateDir), { ...FAST_UPDATE, allDataEpochs: 1_000_000, trainEpochs: 1_000_000 }) };
    const seconds = await orphanLifetime(JSON.stringify(slow), 5);
    assert.ok(seconds < 3, `the orphan lived ${seconds} s after its parent`);
    // Nothing was published: no version directory, no history.
    const models = join(stateDir, 'models');
    const entries = existsSync(models) ? readdirSync(models) : [];
    assert.deepEqual(entries.filter((e) => /^\d+$/.test(e) || e === 'history.jsonl'), [], `models/ holds ${entries.join(', ')}`);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('the parent watchdog kills an orphaned child whose main thread is blocked (a long training step, no progress callback)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const seconds = await orphanLifetime('--busy', 5);
  assert.ok(seconds < 2, `the orphan lived ${seconds} s after its parent`);
});

test('a classifier update with samples of one label fails with BONSAI_DAEMON_TOO_FEW_CLASSES, naming it', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  try {
    for (let seed = 0; seed < 30; seed++) {
      store.addSample(id(`one${seed}`), { modality: 'image', features: Float32Array.from(pixels(0, seed), (v) => v / 255), shape: [SIDE, SIDE, 1] }, { label: 'seven' }, `seven/s${seed}.png`);
    }
    await assert.rejects(trainCandidate(job(stateDir, store.lastSeq(), null)),
      (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DAEMON_TOO_FEW_CLASSES' && /at least 2 labels, the store has 1 \("seven"\)/.test(e.message));
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('without validation samples an update trains but does not prune, reports 0 validation samples, and the gate says it measured training samples', async () => {
  await initBackend({ force: 'cpu' });
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'), { splitRatios: { train: 1, validation: 0, test: 0 } });
  try {
    fill(store, 0, 48);
    const result = await noLeaks(() => trainCandidate(job(stateDir, store.lastSeq(), null)));
    assert.equal(result.sizes.validation, 0);
    assert.equal(result.prune.iterations, 0, 'nothing held out judges a loss: no pruning');
    assert.deepEqual([result.validationAdequacy.samples, result.validationAdequacy.adequate], [0, false]);
    const registry = await openRegistry(join(stateDir, 'models'));
    assert.equal((await registry.get(result.version)).manifest.metrics.validationSamples, 0);
    const reason = decide({ candidateVersion: 1, candidateError: result.candidateError, championVersion: null, championError: null, tolerance: 0, samples: result.sizes.allData, samplesOf: 'training' }).reason;
    assert.match(reason, /on 48 training samples \(the store has no validation samples: nothing held out was measured\)/);
  } finally {
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
