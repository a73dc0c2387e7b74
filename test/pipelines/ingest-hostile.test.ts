/**
 * Hostile inbox entries: symbolic links of every kind, FIFOs, names that are not
 * UTF-8, names of 255 bytes, empty files, the wrong modality, and a move that
 * fails. None may be followed, read through, block, wedge a group or the
 * start-up, or lose accepted data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { Ingestor, ingestFile, ingestFiles, recover, scanInbox, type IngestContext, type ReasonFile } from '../../pipelines/ingest/index.ts';
import type { ProcessedSample } from '../../pipelines/types.ts';

const DAY = '2024-05-06';
const NOW = new Date(`${DAY}T12:00:00Z`);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('pixels')]);
const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WAVEfmt data')]);

interface Env {
  dir: string;
  inbox: string;
  outside: string;
  store: SampleStore;
  ctx: IngestContext;
  calls: string[];
  put(source: string, content: string | Buffer): string;
  done(): void;
}

/** A fake decoder that stores the first bytes; content starting with REJ throws. */
async function fakeProcess(bytes: Buffer): Promise<ProcessedSample> {
  if (bytes.toString('utf8').startsWith('REJ')) throw new Error('cannot decode');
  return { modality: 'image', features: Float32Array.from(bytes.subarray(0, 4)), shape: [Math.min(4, bytes.length)] };
}

function setup(overrides: Partial<IngestContext> = {}): Env {
  const root = mkdtempSync(join(tmpdir(), 'bonsai-hostile-'));
  const dir = join(root, 'state');
  const outside = join(root, 'outside');
  mkdirSync(join(dir, 'inbox'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  const store = openStore(join(dir, 'store.db'));
  const calls: string[] = [];
  const ctx: IngestContext = {
    stateDir: dir,
    store,
    now: () => NOW,
    process: (bytes, file) => { calls.push(file.source); return fakeProcess(bytes); },
    resolveLabel: (file) => ({ target: { label: file.source.split('/')[0] } }),
    ...overrides,
  };
  return {
    dir, inbox: join(dir, 'inbox'), outside, store, ctx, calls,
    put(source, content) {
      const path = join(dir, 'inbox', source);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    },
    done() {
      store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

function reasonOf(env: Env, name: string): ReasonFile {
  return JSON.parse(readFileSync(join(env.dir, 'quarantine', `${name}.reason.json`), 'utf8')) as ReasonFile;
}

test('symbolic links to files, folders, the state directory and nowhere are quarantined as links, never read or moved through', async () => {
  const env = setup();
  try {
    writeFileSync(join(env.outside, 'secret.png'), PNG);
    mkdirSync(join(env.outside, 'dir'));
    writeFileSync(join(env.outside, 'dir', 'a.png'), PNG);
    mkdirSync(join(env.dir, 'models', '3'), { recursive: true });
    writeFileSync(join(env.dir, 'models', '3', 'weights.bin'), 'weights');
    mkdirSync(join(env.inbox, 'cat'));
    symlinkSync(join(env.outside, 'secret.png'), join(env.inbox, 'cat', 'link.png'));
    symlinkSync(join(env.outside, 'dir'), join(env.inbox, 'cat', 'dir'));
    symlinkSync(join(env.dir, 'models', '3'), join(env.inbox, 'champion'));
    symlinkSync(join(env.outside, 'missing.png'), join(env.inbox, 'cat', 'dangling.png'));
    symlinkSync(join(env.outside, 'notes'), join(env.inbox, 'cat', 'notes.txt'));

    // The listing names each link once and never what lies behind one; a link named like a sidecar
    // transcript is not an input of its own (it waits for a recording, whose label refuses it).
    const listed = scanInbox(env.inbox).candidates.map((p) => p.slice(env.inbox.length + 1)).sort();
    assert.deepEqual(listed, ['cat/dangling.png', 'cat/dir', 'cat/link.png', 'champion']);

    // A path through a linked folder is neither read nor moved.
    const through = await ingestFile(join(env.inbox, 'cat', 'dir', 'a.png'), env.ctx);
    assert.equal(through.outcome, 'skipped');
    assert.equal(through.outcome === 'skipped' && through.code, 'BONSAI_INGEST_FILE_SYMLINK');
    assert.ok(existsSync(join(env.outside, 'dir', 'a.png')));

    const outcomes = await ingestFiles(listed.map((s) => join(env.inbox, s)), env.ctx);
    for (const o of outcomes) {
      assert.equal(o.outcome, 'rejected', o.source);
      assert.equal(o.outcome === 'rejected' && o.code, 'BONSAI_INGEST_FILE_SYMLINK', o.source);
    }
    const q = join(env.dir, 'quarantine');
    for (const [name, target] of [['link.png', join(env.outside, 'secret.png')], ['dir', join(env.outside, 'dir')], ['champion', join(env.dir, 'models', '3')], ['dangling.png', join(env.outside, 'missing.png')]]) {
      assert.ok(lstatSync(join(q, name)).isSymbolicLink(), `${name} is quarantined as a link`);
      assert.equal(readlinkSync(join(q, name)), target);
      const reason = reasonOf(env, name);
      assert.equal(reason.code, 'BONSAI_INGEST_FILE_SYMLINK');
      assert.equal(reason.id, null, 'nothing was read');
      assert.match(reason.message, /symbolic link/);
    }
    // The targets are untouched; nothing was stored or decoded.
    assert.deepEqual(readFileSync(join(env.outside, 'secret.png')), PNG);
    assert.deepEqual(readdirSync(join(env.outside, 'dir')), ['a.png']);
    assert.deepEqual(readdirSync(join(env.dir, 'models', '3')), ['weights.bin']);
    assert.deepEqual(env.calls, []);
    assert.equal(env.store.counts().total, 0);
    assert.deepEqual(readdirSync(env.inbox), ['cat']);
    assert.deepEqual(readdirSync(join(env.inbox, 'cat')), ['notes.txt']);
    assert.ok(lstatSync(join(env.inbox, 'cat', 'notes.txt')).isSymbolicLink());

    // A quarantined link whose reason file was lost gets a new one at start-up, without being read through.
    rmSync(join(q, 'link.png.reason.json'));
    rmSync(join(q, 'dangling.png.reason.json'));
    const report = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual(report.reasonsWritten.map((p) => p.slice(q.length + 1)).sort(), ['dangling.png', 'link.png']);
    for (const name of ['dangling.png', 'link.png']) {
      assert.equal(reasonOf(env, name).code, 'BONSAI_INGEST_REASON_LOST');
      assert.equal(reasonOf(env, name).id, null);
    }
  } finally {
    env.done();
  }
});

test('a FIFO is quarantined without being opened; an empty file is FILE_EMPTY, as bonsai check says', async () => {
  const env = setup();
  try {
    mkdirSync(join(env.inbox, 'cat'));
    execFileSync('mkfifo', [join(env.inbox, 'cat', 'pipe.png')]);
    env.put('cat/empty.png', '');
    assert.deepEqual(scanInbox(env.inbox).candidates.map((p) => p.slice(env.inbox.length + 1)).sort(), ['cat/empty.png', 'cat/pipe.png']);
    const [fifo, empty] = await ingestFiles([join(env.inbox, 'cat', 'pipe.png'), join(env.inbox, 'cat', 'empty.png')], env.ctx);
    assert.equal(fifo.outcome === 'rejected' && fifo.code, 'BONSAI_INGEST_FILE_NOT_REGULAR');
    assert.match(fifo.outcome === 'rejected' ? fifo.message : '', /FIFO/);
    assert.ok(lstatSync(join(env.dir, 'quarantine', 'pipe.png')).isFIFO());
    assert.equal(empty.outcome === 'rejected' && empty.code, 'BONSAI_INGEST_FILE_EMPTY');
    assert.match(empty.outcome === 'rejected' ? empty.message : '', /0 bytes/);
    assert.equal(reasonOf(env, 'empty.png').details.bytes, 0);
    assert.deepEqual(env.calls, []);
    assert.equal(env.store.counts().total, 0);
  } finally {
    env.done();
  }
});

test('a name that is not UTF-8 is listed and quarantined under a printable name, the raw bytes in the reason', async () => {
  const env = setup();
  try {
    mkdirSync(join(env.inbox, 'cat'));
    const raw = Buffer.concat([Buffer.from(join(env.inbox, 'cat') + '/'), Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x70, 0x6e, 0x67])]);
    writeFileSync(raw, PNG);
    const scanned = scanInbox(env.inbox);
    assert.deepEqual(scanned.candidates, []);
    assert.equal(scanned.badNames.length, 1);
    assert.ok(scanned.badNames[0].equals(raw));
    const out = await new Ingestor(env.ctx).ingest(raw);
    assert.equal(out.outcome === 'rejected' && out.code, 'BONSAI_INGEST_FILE_NAME_INVALID');
    assert.match(out.outcome === 'rejected' ? out.message : '', /not valid UTF-8/);
    assert.deepEqual(readdirSync(join(env.inbox, 'cat')), []);
    const q = readdirSync(join(env.dir, 'quarantine')).sort();
    assert.equal(q.length, 2);
    const name = q[0];
    assert.ok(!name.includes('\uFFFD'), name);
    assert.deepEqual(readFileSync(join(env.dir, 'quarantine', name)), PNG);
    assert.equal(reasonOf(env, name).details.nameHex, '66fffe2e706e67');
    assert.deepEqual(env.calls, []);
  } finally {
    env.done();
  }
});

test('the wrong modality is rejected before decoding: WAV into an image model, an image into an audio model', async () => {
  const image = setup({ modality: 'image' });
  const audio = setup({ modality: 'audio' });
  try {
    const wav = await ingestFile(image.put('cat/x.wav', WAV), image.ctx);
    assert.equal(wav.outcome === 'rejected' && wav.code, 'BONSAI_INGEST_WRONG_MODALITY');
    assert.match(wav.outcome === 'rejected' ? wav.message : '', /audio.*image/);
    assert.deepEqual(reasonOf(image, 'x.wav').details, { actual: 'audio', expected: 'image', format: 'wav' });
    assert.equal(image.store.counts().pending, 0);
    assert.deepEqual(image.calls, []);
    const png = await ingestFile(audio.put('yes/x.png', PNG), audio.ctx);
    assert.equal(png.outcome === 'rejected' && png.code, 'BONSAI_INGEST_WRONG_MODALITY');
    assert.deepEqual(reasonOf(audio, 'x.png').details, { actual: 'image', expected: 'audio', format: 'png' });
    assert.equal(audio.store.counts().pending, 0);
    assert.deepEqual(audio.calls, []);
  } finally {
    image.done();
    audio.done();
  }
});

test('names of 255 bytes are archived and quarantined under names that fit, keeping the extension and uniqueness', async () => {
  const env = setup();
  try {
    const long = (c: string, end: string): string => `${c.repeat(251 - end.length)}${end}.png`;
    const names = [long('a', 'x'), long('a', 'y'), `${'é'.repeat(125)}.png`, 'a'.repeat(255)];
    for (const n of names) assert.ok(Buffer.byteLength(n) >= 250 && Buffer.byteLength(n) <= 255, n);
    const accepted = await ingestFiles(names.map((n, i) => env.put(`cat/${n}`, `img${i}`)), env.ctx);
    const archived = readdirSync(join(env.dir, 'archive', DAY));
    assert.equal(archived.length, 4);
    for (const [i, o] of accepted.entries()) {
      assert.equal(o.outcome, 'accepted');
      const name = o.outcome === 'accepted' ? o.destination.split('/').pop() ?? '' : '';
      assert.ok(Buffer.byteLength(name) <= 255, name);
      assert.ok(name.startsWith(`${o.outcome === 'accepted' ? o.id.slice(0, 12) : ''}-`), name);
      if (i < 3) assert.ok(name.endsWith('.png'), name);
      assert.ok(!name.includes('\uFFFD'), 'cut on a character boundary');
    }
    const rejected = await ingestFiles(names.slice(0, 2).map((n) => env.put(`dog/${n}`, `REJ${n.slice(-5)}`)), env.ctx);
    const q = readdirSync(join(env.dir, 'quarantine'));
    assert.equal(q.length, 4);
    for (const o of rejected) assert.equal(o.outcome, 'rejected');
    for (const n of q) assert.ok(Buffer.byteLength(n) <= 255, n);
    assert.equal(env.store.counts().total, 4);
    assert.deepEqual(readdirSync(join(env.inbox, 'cat')), []);
    assert.deepEqual(readdirSync(join(env.inbox, 'dog')), []);
  } finally {
    env.done();
  }
});

test('a move that fails leaves the rest of its group moved and never blocks recovery at start-up', async () => {
  const env = setup();
  try {
    // archive/<day> is a file: every move to the archive fails, the quarantine still works.
    mkdirSync(join(env.dir, 'archive'), { recursive: true });
    writeFileSync(join(env.dir, 'archive', DAY), 'in the way');
    const ingestor = new Ingestor(env.ctx, { batchSize: 8, maxDelayMs: 50 });
    const [good, bad] = await Promise.allSettled([ingestor.ingest(env.put('cat/good.png', 'good')), ingestor.ingest(env.put('cat/bad.png', 'REJ1'))]);
    assert.equal(good.status, 'rejected');
    assert.equal(good.status === 'rejected' && (good.reason as { code?: string }).code, 'BONSAI_INGEST_MOVE_FAILED');
    assert.equal(bad.status === 'fulfilled' && bad.value.outcome, 'rejected');
    assert.ok(existsSync(join(env.dir, 'quarantine', 'bad.png')));
    assert.equal(env.store.counts().total, 1, 'the accepted sample is committed');

    const report = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual(report.stuck.map((s) => [s.source, s.code]), [['cat/good.png', 'BONSAI_INGEST_MOVE_FAILED']]);
    assert.ok(existsSync(join(env.inbox, 'cat', 'good.png')), 'nothing is lost');

    rmSync(join(env.dir, 'archive', DAY));
    const again = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual(again.stuck, []);
    assert.deepEqual(again.archived.map((o) => o.source), ['cat/good.png']);
    assert.equal(env.store.counts().total, 1);
  } finally {
    env.done();
  }
});
