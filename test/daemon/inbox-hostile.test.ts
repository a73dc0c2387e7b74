/**
 * The daemon against a hostile inbox: links of every kind (before and after
 * start), FIFOs, names that are not UTF-8 or of 255 bytes, empty files, WAV
 * for an image model; then entries that cannot be moved at all, across
 * restarts. Nothing is followed, nothing blocks, nothing wedges the start-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import type { ReasonFile } from '../../pipelines/ingest/index.ts';
import { FAST_UPDATE, png, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt data')]);

/** Entries left in the inbox (real folders entered, links and everything else counted). */
function inboxEntries(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const p = Buffer.concat([Buffer.from(`${dir}/`), name]);
    if (lstatSync(p).isDirectory()) n += inboxEntries(p.toString());
    else n++;
  }
  return n;
}

function reason(stateDir: string, name: string): ReasonFile {
  return JSON.parse(readFileSync(join(stateDir, 'quarantine', `${name}.reason.json`), 'utf8')) as ReasonFile;
}

async function stuckCount(d: Daemon): Promise<number> {
  return (await d.metrics.ingestStuck.get()).values.reduce((a, v) => a + v.value, 0);
}

async function start(stateDir: string, log: MemoryLog): Promise<Daemon> {
  return startDaemon(testConfig(stateDir), { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false });
}

test('links, FIFOs, bad and long names, empty files and WAV for an image model: quarantined or stored, never followed', async () => {
  const stateDir = tempStateDir();
  const outside = mkdtempSync(join(tmpdir(), 'bonsai-outside-'));
  const inbox = join(stateDir, 'inbox');
  const log = new MemoryLog();
  const secret = await png(0, 1);
  writeFileSync(join(outside, 'secret.png'), secret);
  for (const d of ['dir', 'dir2']) {
    mkdirSync(join(outside, d));
    writeFileSync(join(outside, d, 'x.png'), await png(1, 2));
  }
  mkdirSync(join(stateDir, 'archive', 'keep'), { recursive: true });
  writeFileSync(join(stateDir, 'archive', 'keep', 'old.png'), await png(2, 3));
  mkdirSync(join(inbox, 'a'), { recursive: true });
  symlinkSync(join(outside, 'secret.png'), join(inbox, 'a', 'link.png'));
  symlinkSync(join(outside, 'dir'), join(inbox, 'b'));
  symlinkSync(join(stateDir, 'archive'), join(inbox, 'arch'));
  symlinkSync(join(outside, 'none.png'), join(inbox, 'a', 'gone.png'));
  execFileSync('mkfifo', [join(inbox, 'a', 'pipe.png')]);
  writeFileSync(join(inbox, 'a', 'empty.png'), '');
  writeFileSync(join(inbox, 'a', 'rec.wav'), WAV);
  const long = `${'l'.repeat(251)}.png`;
  writeFileSync(join(inbox, 'a', long), await png(0, 4));
  writeFileSync(Buffer.concat([Buffer.from(join(inbox, 'a') + '/'), Buffer.from([0xff, 0x2e, 0x70, 0x6e, 0x67])]), await png(0, 5));
  const d = await start(stateDir, log);
  try {
    // Made after the start: a link to a folder, to a file, to the state directory's models/.
    symlinkSync(join(outside, 'dir2'), join(inbox, 'd'));
    symlinkSync(join(outside, 'secret.png'), join(inbox, 'a', 'late.png'));
    symlinkSync(join(stateDir, 'models'), join(inbox, 'models'));
    await waitFor('an empty inbox', () => inboxEntries(inbox) === 0, 15_000);

    const q = join(stateDir, 'quarantine');
    for (const name of ['link.png', 'b', 'arch', 'gone.png', 'd', 'late.png', 'models']) {
      assert.ok(lstatSync(join(q, name)).isSymbolicLink(), `${name} is quarantined as a link`);
      assert.equal(reason(stateDir, name).code, 'BONSAI_INGEST_FILE_SYMLINK');
    }
    assert.ok(lstatSync(join(q, 'pipe.png')).isFIFO());
    assert.equal(reason(stateDir, 'pipe.png').code, 'BONSAI_INGEST_FILE_NOT_REGULAR');
    assert.equal(reason(stateDir, 'empty.png').code, 'BONSAI_INGEST_FILE_EMPTY');
    assert.deepEqual(reason(stateDir, 'rec.wav').details, { actual: 'audio', expected: 'image', format: 'wav' });
    assert.equal(reason(stateDir, '_.png').code, 'BONSAI_INGEST_FILE_NAME_INVALID');
    // Targets untouched, the state directory's own folders intact.
    assert.deepEqual(readFileSync(join(outside, 'secret.png')), secret);
    assert.deepEqual(readdirSync(join(outside, 'dir')), ['x.png']);
    assert.deepEqual(readdirSync(join(outside, 'dir2')), ['x.png']);
    assert.deepEqual(readdirSync(join(stateDir, 'archive', 'keep')), ['old.png']);
    assert.ok(lstatSync(join(stateDir, 'models')).isDirectory());
    // Only the long-named PNG is stored, archived under a name that fits.
    const counts = d.store.counts();
    assert.equal(counts.total, 1);
    assert.equal(counts.pending, 1);
    const archived = readdirSync(join(stateDir, 'archive')).filter((n) => n !== 'keep').flatMap((day) => readdirSync(join(stateDir, 'archive', day)));
    assert.equal(archived.length, 1);
    assert.ok(Buffer.byteLength(archived[0]) <= 255 && archived[0].endsWith('.png'), archived[0]);
    assert.equal(await stuckCount(d), 0);
    assert.deepEqual(log.named('ingest.failed'), []);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test('entries that cannot be moved are logged once and counted, never block the start-up, and move once they can', async () => {
  const stateDir = tempStateDir();
  const inbox = join(stateDir, 'inbox');
  // Files where archive/ and quarantine/ should be: every move out of the inbox fails.
  writeFileSync(join(stateDir, 'archive'), 'in the way');
  writeFileSync(join(stateDir, 'quarantine'), 'in the way');
  mkdirSync(join(inbox, 'a'), { recursive: true });
  execFileSync('mkfifo', [join(inbox, 'a', 'pipe.png')]);
  writeFileSync(join(inbox, 'a', 'ok.png'), await png(0, 7));
  let log = new MemoryLog();
  let d = await start(stateDir, log);
  try {
    await waitFor('two stuck entries', () => log.named('ingest.stuck').length === 2, 10_000);
    assert.equal(d.store.counts().total, 1, 'the accepted sample is committed');
    // More reconcile scans (every second) find them again: no new log line, no new count.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(log.named('ingest.stuck').length, 2);
    assert.deepEqual(log.named('ingest.stuck').map((f) => f.source).sort(), ['a/ok.png', 'a/pipe.png']);
    assert.equal(await stuckCount(d), 2);
  } finally {
    await d.stop('test done');
  }
  // A restart with the committed file still in the inbox starts, and says so once.
  log = new MemoryLog();
  d = await start(stateDir, log);
  try {
    assert.equal(d.store.counts().total, 1);
    await waitFor('the stuck entries reported', () => log.named('ingest.stuck').length === 2, 10_000);
  } finally {
    await d.stop('test done');
  }
  // Once the way is clear, the next start archives and quarantines them.
  rmSync(join(stateDir, 'archive'));
  rmSync(join(stateDir, 'quarantine'));
  log = new MemoryLog();
  d = await start(stateDir, log);
  try {
    await waitFor('an empty inbox', () => inboxEntries(inbox) === 0, 10_000);
    assert.ok(lstatSync(join(stateDir, 'quarantine', 'pipe.png')).isFIFO());
    assert.equal(d.store.counts().total, 1);
    assert.equal(log.named('ingest.stuck').length, 0);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
