/**
 * Kills an ingesting child process (SIGKILL, no clean-up) at every step of the
 * commit protocol, restarts ingestion without the crash point (in the test
 * process, which takes over the dead child's lock), and checks that every
 * input file ends up exactly once in archive/ or quarantine/, every accepted
 * sample is stored exactly once, and the duplicate and relabel counters are exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { openStore } from '../../pipelines/store/index.ts';
import { listFiles, REASON_SUFFIX, sampleId, type IngestStep, type ReasonFile } from '../../pipelines/ingest/index.ts';
import { fakeDecode, runIngest } from '../fixtures/ingest-child.ts';

/**
 * Inbox files (source -> content). `1.png` and `4.png` are copies under two labels (the later one
 * relabels the sample); `5.png` repeats a sample stored before the run under its label (a duplicate).
 */
const INPUTS: Record<string, string> = {
  'a/1.png': 'one',
  'a/2.png': 'two',
  'b/3.png': 'three',
  'b/4.png': 'one',
  'c/5.png': 'stored before',
  'a/6.png': 'BAD six',
  'b/7.png': 'BAD seven',
  'b/7.png.done': '',
  'a/8.png': 'eight',
  'a/8.png.done': '',
};
const ACCEPTED = ['one', 'two', 'three', 'eight', 'stored before'];
const REJECTED = ['6.png', '7.png'];

/** Crash points (step, n-th time reached); a scenario with two crashes also kills the first restart (inside `recover`). */
const SCENARIOS: [IngestStep, number][][] = [
  [['read', 1]], [['hash', 1]], [['label', 1]], [['process', 1]], [['process', 3]],
  [['transaction', 1]], [['transaction', 2]], [['commit', 1]], [['commit', 2]],
  [['reason-tmp', 1]], [['reason', 1]], [['reason', 2]], [['sidecars', 1]], [['moved', 1]], [['moved', 4]],
  [['commit', 1], ['moved', 1]], [['reason', 1], ['sidecars', 1]],
];

function runChild(stateDir: string, crash?: [IngestStep, number]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, BONSAI_TEST_STATE_DIR: stateDir };
    if (crash) Object.assign(env, { BONSAI_TEST_CRASH_AT: crash[0], BONSAI_TEST_CRASH_NTH: String(crash[1]) });
    const child = spawn(process.execPath, ['--import', 'tsx', join('test', 'fixtures', 'ingest-child.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function seed(stateDir: string): Promise<void> {
  const store = openStore(join(stateDir, 'store.db'));
  const bytes = Buffer.from('stored before');
  store.addSample(sampleId(bytes), await fakeDecode(bytes), { label: 'c' }, 'c/earlier.png');
  store.close();
  for (const [source, content] of Object.entries(INPUTS)) {
    const path = join(stateDir, 'inbox', source);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/** Original name of a file in archive/ (`<hash12>-<name>` or `<hash12>.<n>-<name>`) or quarantine/. */
function originalName(path: string, stateDir: string): string {
  const name = basename(path);
  return path.startsWith(join(stateDir, 'archive')) ? name.replace(/^[0-9a-f]{12}(\.\d+)?-/, '') : name;
}

function checkFinalState(stateDir: string, label: string): void {
  assert.deepEqual(listFiles(join(stateDir, 'inbox')), [], `${label}: inbox is empty`);
  const placed = [...listFiles(join(stateDir, 'archive')), ...listFiles(join(stateDir, 'quarantine'))].filter((p) => !p.endsWith(REASON_SUFFIX));
  const names = placed.map((p) => originalName(p, stateDir)).sort();
  assert.deepEqual(names, Object.keys(INPUTS).map((s) => basename(s)).sort(), `${label}: every input exactly once in archive/ or quarantine/`);
  for (const p of placed) {
    const source = Object.keys(INPUTS).find((s) => basename(s) === originalName(p, stateDir)) ?? '';
    assert.equal(readFileSync(p, 'utf8'), INPUTS[source], `${label}: ${p} has the content of ${source}`);
  }
  const quarantine = join(stateDir, 'quarantine');
  const qNames = existsSync(quarantine) ? readdirSync(quarantine).sort() : [];
  assert.deepEqual(qNames, ['6.png', '6.png.reason.json', '7.png', '7.png.done', '7.png.reason.json'], `${label}: quarantine holds the rejects, their reasons and sidecars, no temp files`);
  for (const name of REJECTED) {
    const reason = JSON.parse(readFileSync(join(quarantine, name + REASON_SUFFIX), 'utf8')) as ReasonFile;
    assert.equal(reason.code, 'BONSAI_INGEST_PROCESS_FAILED', `${label}: reason of ${name}`);
    assert.equal(reason.file, name);
  }

  const store = openStore(join(stateDir, 'store.db'), { readonly: true });
  try {
    const ids = store.db.prepare('SELECT id FROM samples ORDER BY id').pluck().all();
    assert.deepEqual(ids, ACCEPTED.map((c) => sampleId(Buffer.from(c))).sort(), `${label}: each accepted sample stored exactly once`);
    const dups = store.db.prepare('SELECT source FROM duplicates ORDER BY source').pluck().all() as string[];
    assert.deepEqual(dups, ['c/5.png'], `${label}: one duplicate counted`);
    // Whichever copy of 'one' was committed second relabeled it, once; the sample has that copy's label.
    const relabels = store.db.prepare('SELECT source, from_label AS "from", to_label AS "to" FROM relabels').all() as { source: string; from: string; to: string }[];
    assert.equal(relabels.length, 1, `${label}: one relabel, got ${JSON.stringify(relabels)}`);
    const [r] = relabels;
    assert.ok((r.source === 'b/4.png' && r.from === 'a' && r.to === 'b') || (r.source === 'a/1.png' && r.from === 'b' && r.to === 'a'), `${label}: relabel ${JSON.stringify(r)}`);
    assert.equal(store.getSample(sampleId(Buffer.from('one')))?.label, r.to, `${label}: the latest label wins`);
    const log = store.db.prepare('SELECT outcome, count(*) AS n FROM ingest_log GROUP BY outcome ORDER BY outcome').all();
    assert.deepEqual(log, [{ outcome: 'accepted', n: 5 }, { outcome: 'duplicate', n: 1 }, { outcome: 'rejected', n: 2 }, { outcome: 'relabeled', n: 1 }], `${label}: one ingest-log row per file`);
    assert.deepEqual(store.labels().map((l) => l.label).sort(), ['a', 'b', 'c']);
  } finally {
    store.close();
  }
}

async function scenario(crashes: [IngestStep, number][]): Promise<void> {
  const label = `crash at ${crashes.map(([step, n]) => `${step} #${n}`).join(', then at ')}`;
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-crash-'));
  try {
    await seed(stateDir);
    for (const crash of crashes) {
      const crashed = await runChild(stateDir, crash);
      assert.equal(crashed.signal, 'SIGKILL', `${label}: the child should have been killed at ${crash[0]}; exit ${crashed.code}, stderr ${crashed.stderr}`);
      assert.ok(existsSync(join(stateDir, 'store.db.lock')), `${label}: the killed child leaves its lock behind`);
    }
    // Restart without the crash point (in this process: another pid, the stale lock is taken over).
    await runIngest(stateDir);
    checkFinalState(stateDir, label);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

test('a run without a crash leaves the reference final state', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-crash-none-'));
  try {
    await seed(stateDir);
    const run = await runChild(stateDir);
    assert.equal(run.code, 0, run.stderr);
    const { outcomes } = JSON.parse(run.stdout) as { outcomes: { outcome: string }[] };
    assert.deepEqual(outcomes.map((o) => o.outcome).sort(), ['accepted', 'accepted', 'accepted', 'accepted', 'duplicate', 'rejected', 'rejected', 'relabeled']);
    checkFinalState(stateDir, 'no crash');
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a crash at any step of the protocol loses nothing and stores nothing twice', async () => {
  // Two children at a time (the machine has two cores).
  const queue = [...SCENARIOS];
  const failures: unknown[] = [];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      await scenario(next).catch((err: unknown) => { failures.push(err); });
    }
  };
  await Promise.all([worker(), worker()]);
  if (failures.length) throw failures[0];
});
