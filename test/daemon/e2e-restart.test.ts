/**
 * End to end across a crash: a daemon process killed with SIGKILL while it
 * ingests (and trains), then restarted on the same state directory, ends with
 * every dropped file stored exactly once and archived exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { listFiles } from '../../pipelines/ingest/index.ts';
import { FAST_UPDATE, LABELS, png, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const CHILD = fileURLToPath(new URL('./e2e-child.ts', import.meta.url));

test('a daemon killed (SIGKILL) mid-ingest and restarted loses and duplicates no sample', async () => {
  const stateDir = tempStateDir();
  const config = testConfig(stateDir);
  // 120 distinct files, prepared outside the inbox so they can arrive all at once.
  const outside = join(stateDir, 'outgoing');
  const expected = new Set<string>();
  const files: Array<{ from: string; to: string }> = [];
  for (let seed = 0; seed < 120; seed++) {
    const k = seed % 4;
    const bytes = await png(k, seed);
    expected.add(createHash('sha256').update(bytes).digest('hex'));
    mkdirSync(join(outside, LABELS[k]), { recursive: true });
    const from = join(outside, LABELS[k], `s${seed}.png`);
    writeFileSync(from, bytes);
    files.push({ from, to: join(stateDir, 'inbox', LABELS[k], `s${seed}.png`) });
  }

  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('READY')) resolve(); });
    child.once('exit', (code) => reject(new Error(`daemon exited with ${code}: ${stderr}`)));
  });
  for (const f of files) {
    mkdirSync(join(f.to, '..'), { recursive: true });
    renameSync(f.from, f.to);
  }
  // Kill it once some, but (very likely) not all, files are archived.
  await waitFor('the first archived files', () => listFiles(join(stateDir, 'archive')).length >= 10, 30_000, 2);
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const archivedAtKill = listFiles(join(stateDir, 'archive')).length;

  const d = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog(), defaultMetrics: false });
  try {
    await waitFor('the inbox to empty', () => listFiles(join(stateDir, 'inbox')).length === 0, 30_000);
    await waitFor('the updates to settle', async () => !d.scheduler.busy && d.store.counts().pending === 0 && d.holder.version !== null, 45_000);
    // Every file stored once: the store's ids are exactly the files' hashes.
    const ids = new Set(d.store.db.prepare<[], string>('SELECT id FROM samples').pluck().all());
    assert.equal(ids.size, 120);
    assert.deepEqual([...ids].sort(), [...expected].sort());
    assert.equal(d.store.counts().duplicates, 0);
    // Every file archived once, none quarantined.
    const archived = listFiles(join(stateDir, 'archive'));
    assert.equal(archived.length, 120, `archived ${archived.length} (${archivedAtKill} before the kill)`);
    const archivedHashes = new Set(archived.map((p) => createHash('sha256').update(readFileSync(p)).digest('hex')));
    assert.deepEqual([...archivedHashes].sort(), [...expected].sort());
    assert.equal(existsSync(join(stateDir, 'quarantine')) ? listFiles(join(stateDir, 'quarantine')).length : 0, 0);
    // The registry holds whole versions only, and no candidate without a verdict.
    const models = readdirSync(join(stateDir, 'models'));
    assert.deepEqual(models.filter((n) => n.startsWith('.staging-')), []);
    for (const v of await d.registry.list()) assert.notEqual(v.manifest.state, 'candidate', `version ${v.version}`);
    assert.equal((await d.registry.current())?.version, d.holder.version);
  } finally {
    await d.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
