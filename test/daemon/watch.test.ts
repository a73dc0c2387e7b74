/** The inbox watcher: when a file is complete, which names are samples, events, reconcile scans, one hand-over per path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs, { appendFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync, type FSWatcher, type PathLike } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inboxCandidates } from '../../pipelines/ingest/index.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { checkComplete, InboxWatcher, isSampleName, type InboxWatcherArgs } from '../../daemon/watch/index.ts';
import { waitFor } from './e2e-helpers.ts';

function tempInbox(): { root: string; inbox: string; done: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'bonsai-watch-'));
  const inbox = join(root, 'inbox');
  mkdirSync(inbox, { recursive: true });
  return { root, inbox, done: () => rmSync(root, { recursive: true, force: true }) };
}

/** Writes a file whose mtime is `ageMs` in the past (a file written earlier, then renamed in). */
function writeAged(path: string, ageMs: number, data = 'x'): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(path, t, t);
}

test('sample names: the same rule as the ingest protocol\'s inbox listing', () => {
  const { inbox, done } = tempInbox();
  try {
    const names = ['cat/a.png', 'cat/b.PNG', 'cat/.a.png.tmp', 'cat/a.png.done', 'cat/a.wav.txt', 'manifest.jsonl', 'dog/x.part', 'dog/y.crdownload', 'dog/z.tmp', 'dog/deep/w.jpg', 'root.wav', 'dog/.hidden'];
    for (const n of names) writeAged(join(inbox, n), 0);
    const listed = new Set(inboxCandidates(inbox).map((p) => p.slice(inbox.length + 1)));
    for (const n of names) assert.equal(isSampleName(join(inbox, n)), listed.has(n), n);
    assert.deepEqual([...listed].sort(), ['cat/a.png', 'cat/b.PNG', 'dog/deep/w.jpg', 'root.wav']);
  } finally {
    done();
  }
});

test('checkComplete: done marker, settled mtime, still being written, two equal looks when polling, gone', () => {
  const { inbox, done } = tempInbox();
  try {
    const now = Date.now();
    const fresh = join(inbox, 'a', 'fresh.png');
    writeAged(fresh, 100);
    const writing = checkComplete(fresh, { stableMs: 2000, compareLooks: false, now });
    assert.equal(writing.state, 'writing');
    assert.ok(writing.state === 'writing' && writing.retryInMs > 1800 && writing.retryInMs <= 1950, JSON.stringify(writing));
    writeFileSync(`${fresh}.done`, '');
    assert.deepEqual(checkComplete(fresh, { stableMs: 2000, compareLooks: false, now }).state, 'complete');

    const old = join(inbox, 'a', 'old.png');
    writeAged(old, 5000);
    assert.deepEqual(checkComplete(old, { stableMs: 2000, compareLooks: false, now }), { state: 'complete', why: 'settled', look: { size: 1, mtimeMs: (checkComplete(old, { stableMs: 0, compareLooks: false }) as { look: { mtimeMs: number } }).look.mtimeMs, at: now } });

    // Polling mode ignores the mtime's age (the server's clock may be skewed) and compares looks.
    const first = checkComplete(old, { stableMs: 2000, compareLooks: true, now });
    assert.equal(first.state, 'writing');
    const second = checkComplete(old, { stableMs: 2000, compareLooks: true, now: now + 1000, previous: first.look });
    assert.equal(second.state, 'writing');
    assert.ok(second.state === 'writing' && second.retryInMs === 1000);
    assert.equal(checkComplete(old, { stableMs: 2000, compareLooks: true, now: now + 2000, previous: second.look }).state, 'complete');
    appendFileSync(old, 'more');
    const grown = checkComplete(old, { stableMs: 2000, compareLooks: true, now: now + 2500, previous: second.look });
    assert.equal(grown.state, 'writing');
    assert.equal(grown.look?.at, now + 2500);

    assert.deepEqual(checkComplete(join(inbox, 'a', 'missing.png'), { stableMs: 10, compareLooks: false }), { state: 'gone' });
    assert.deepEqual(checkComplete(join(inbox, 'a'), { stableMs: 10, compareLooks: false }), { state: 'gone' });
  } finally {
    done();
  }
});

function watcher(inbox: string, handed: string[], extra: Partial<InboxWatcherArgs> = {}): InboxWatcher {
  return new InboxWatcher({
    inbox, polling: false, pollIntervalMs: 100, reconcileIntervalMs: 0, stableMs: 300, log: new MemoryLog(),
    // Like the ingest protocol, a handled file leaves the inbox (with its marker).
    ingest: async (p) => {
      handed.push(p.slice(inbox.length + 1));
      rmSync(p, { force: true });
      rmSync(`${p}.done`, { force: true });
      return { retry: false };
    },
    ...extra,
  });
}

test('files present at start are handed over; renamed-in files at once; files written in place once settled or marked done', async () => {
  const { root, inbox, done } = tempInbox();
  const handed: string[] = [];
  writeAged(join(inbox, 'cat', 'before.png'), 10_000);
  writeAged(join(inbox, 'cat', 'notes.txt'), 10_000);
  const w = watcher(inbox, handed);
  try {
    await w.start();
    assert.deepEqual(handed, ['cat/before.png']);

    // Renamed in after being written elsewhere (mtime already old): handed over without waiting.
    writeAged(join(root, 'renamed.png'), 10_000);
    const t0 = Date.now();
    renameSync(join(root, 'renamed.png'), join(inbox, 'renamed.png'));
    await waitFor('the renamed file', () => handed.includes('renamed.png'), 5000, 5);
    assert.ok(Date.now() - t0 < 300, `took ${Date.now() - t0} ms`);

    // Written in place: only after 300 ms without a change.
    const t1 = Date.now();
    writeAged(join(inbox, 'dog', 'slow.png'), 0);
    await waitFor('the settled file', () => handed.includes('dog/slow.png'), 5000, 5);
    assert.ok(Date.now() - t1 >= 250, `handed after ${Date.now() - t1} ms`);

    // A .done marker completes a fresh file at once.
    writeAged(join(inbox, 'dog', 'marked.png'), 0);
    writeFileSync(join(inbox, 'dog', 'marked.png.done'), '');
    await waitFor('the marked file', () => handed.includes('dog/marked.png'), 5000, 5);

    // Temp files, sidecars and manifests are never handed over.
    writeAged(join(inbox, 'dog', '.partial.png.tmp'), 10_000);
    writeAged(join(inbox, 'manifest.jsonl'), 10_000);
    await new Promise((r) => setTimeout(r, 400));
    await w.idle();
    assert.deepEqual([...handed].sort(), ['cat/before.png', 'dog/marked.png', 'dog/slow.png', 'renamed.png']);
    assert.equal(w.stats().handed, 4);
  } finally {
    await w.stop();
    done();
  }
});

test('a reconcile scan finds what events missed; a path is never handed over twice at once; retry asks again', async () => {
  const { inbox, done } = tempInbox();
  const handed: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  const w = watcher(inbox, handed, {
    ingest: async (p) => {
      handed.push(p.slice(inbox.length + 1));
      if (first) {
        first = false;
        await gate;
        return { retry: true };
      }
      rmSync(p);
      return { retry: false };
    },
  });
  try {
    await w.start();
    writeAged(join(inbox, 'cat', 'a.png'), 10_000);
    await waitFor('the first hand-over', () => handed.length === 1, 5000, 5);
    // While it is in flight, scans and events do not hand it over again.
    assert.equal(await w.reconcile(), 1);
    await w.reconcile();
    assert.deepEqual(handed, ['cat/a.png']);
    assert.equal(w.stats().inFlight, 1);
    // The ingest asks for a retry (the file changed while read): handed over once more.
    release();
    await waitFor('the retry', () => handed.length === 2, 5000, 5);
    await w.idle();
    assert.deepEqual(handed, ['cat/a.png', 'cat/a.png']);
  } finally {
    await w.stop();
  }

  // Files that arrive while nobody watches are found by the scan at the next start.
  writeAged(join(inbox, 'cat', 'while-stopped.png'), 10_000);
  const later: string[] = [];
  const w2 = watcher(inbox, later);
  try {
    await w2.start();
    assert.deepEqual(later, ['cat/while-stopped.png']);
  } finally {
    await w2.stop();
    done();
  }
});

test('polling mode sees new files without OS events', async () => {
  const { inbox, done } = tempInbox();
  const handed: string[] = [];
  const w = watcher(inbox, handed, { polling: true, pollIntervalMs: 50, stableMs: 100 });
  try {
    await w.start();
    writeAged(join(inbox, 'cat', 'p.png'), 0);
    await waitFor('the polled file', () => handed.includes('cat/p.png'), 5000, 10);
  } finally {
    await w.stop();
    done();
  }
});

test('links of every kind, FIFOs and names that are not UTF-8 are handed over themselves, before and after start; nothing behind a link is', async () => {
  const { root, inbox, done } = tempInbox();
  const outside = join(root, 'outside');
  writeAged(join(outside, 'dir', 'a.png'), 10_000);
  writeAged(join(outside, 'file.png'), 10_000);
  writeAged(join(outside, 'later', 'b.png'), 10_000);
  mkdirSync(join(inbox, 'cat'));
  symlinkSync(join(outside, 'file.png'), join(inbox, 'cat', 'link.png'));
  symlinkSync(join(outside, 'dir'), join(inbox, 'linked'));
  symlinkSync(join(root, 'nowhere.png'), join(inbox, 'cat', 'dangling.png'));
  execFileSync('mkfifo', [join(inbox, 'cat', 'pipe.png')]);
  const raw = Buffer.concat([Buffer.from(join(inbox, 'cat') + '/'), Buffer.from([0xff, 0x2e, 0x70, 0x6e, 0x67])]);
  writeFileSync(raw, 'x');
  const handed: string[] = [];
  const badNames: Buffer[] = [];
  const w = watcher(inbox, handed, {
    ingestBadName: async (p) => {
      badNames.push(p);
      rmSync(p);
    },
  });
  try {
    await w.start();
    assert.deepEqual([...handed].sort(), ['cat/dangling.png', 'cat/link.png', 'cat/pipe.png', 'linked']);
    assert.equal(badNames.length, 1);
    assert.ok(badNames[0].equals(raw));
    // Links made after the start: to a folder, to a file; never waited on, never entered.
    symlinkSync(join(outside, 'later'), join(inbox, 'later'));
    symlinkSync(join(outside, 'file.png'), join(inbox, 'cat', 'late.png'));
    await waitFor('the new links', () => handed.includes('later') && handed.includes('cat/late.png'), 5000, 5);
    await new Promise((r) => setTimeout(r, 400));
    await w.reconcile();
    await w.idle();
    assert.deepEqual([...handed].sort(), ['cat/dangling.png', 'cat/late.png', 'cat/link.png', 'cat/pipe.png', 'later', 'linked']);
    assert.ok(existsSync(join(outside, 'dir', 'a.png')) && existsSync(join(outside, 'later', 'b.png')) && existsSync(join(outside, 'file.png')));
  } finally {
    await w.stop();
    done();
  }
});

test('an inbox that is itself a link (placed elsewhere by the operator) is watched and scanned; links below it are not followed', async () => {
  const { root, done } = tempInbox();
  const real = join(root, 'real-inbox');
  const inbox = join(root, 'linked-inbox');
  mkdirSync(real);
  symlinkSync(real, inbox);
  writeAged(join(real, 'cat', 'before.png'), 10_000);
  const handed: string[] = [];
  const w = watcher(inbox, handed);
  try {
    await w.start();
    assert.deepEqual(handed, ['cat/before.png']);
    writeAged(join(root, 'x.png'), 10_000);
    renameSync(join(root, 'x.png'), join(inbox, 'cat', 'after.png'));
    await waitFor('the event for the new file', () => handed.includes('cat/after.png'), 3000, 5);
  } finally {
    await w.stop();
    done();
  }
});

test('an inbox that disappears is said once, not recreated, and its return is said; its files are then found', async () => {
  const { inbox, done } = tempInbox();
  const handed: string[] = [];
  const log = new MemoryLog();
  const w = watcher(inbox, handed, { log });
  try {
    await w.start();
    rmSync(inbox, { recursive: true });
    assert.equal(await w.reconcile(), 0);
    assert.equal(await w.reconcile(), 0);
    const missing = log.events.filter((e) => e.event === 'watch.inbox_missing');
    assert.equal(missing.length, 1, 'said once');
    assert.equal(missing[0].level, 'warn');
    assert.equal(existsSync(inbox), false, 'not recreated (it may be an unmounted volume\'s mount point)');
    writeAged(join(inbox, 'cat', 'back.png'), 10_000);
    assert.equal(await w.reconcile(), 1);
    assert.equal(log.events.filter((e) => e.event === 'watch.inbox_back').length, 1);
    await waitFor('the file handed over', () => handed.includes('cat/back.png'), 5000, 5);
  } finally {
    await w.stop();
    done();
  }
});

test('a stop that lands while chokidar sets up a folder\'s watch leaves no handle that keeps the process alive', async () => {
  // chokidar 5 drops the closer of a folder whose watch it created just before close() (its
  // _addToNodeFs checks `closed` after the await and returns): that fs.watch handle is never
  // closed. Made persistent, it kept a stopped daemon's process (a test file, in one run in three
  // under load) alive for good. The trap below stops the watcher inside that window every time.
  const { inbox, done } = tempInbox();
  const handed: string[] = [];
  const w = watcher(inbox, handed);
  const fsEvents = (): number => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
  const original = fs.watch;
  let stopping: Promise<void> | null = null;
  const before = fsEvents();
  try {
    await w.start();
    const late = join(inbox, 'late');
    fs.watch = ((path: PathLike, ...rest: unknown[]) => {
      const handle = (original as (...a: unknown[]) => FSWatcher)(path, ...rest);
      if (stopping === null && String(path) === late) stopping = w.stop();
      return handle;
    }) as typeof fs.watch;
    syncBuiltinESMExports();
    writeAged(join(late, 'a.png'), 10_000);
    await waitFor('the watch of the new folder', () => stopping !== null, 5000, 5);
    await stopping;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fsEvents() - before, 0, 'no handle the watcher made keeps the process alive');
  } finally {
    fs.watch = original;
    syncBuiltinESMExports();
    await w.stop();
    done();
  }
});
