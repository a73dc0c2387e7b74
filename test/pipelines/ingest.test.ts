import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ManifestCache, resolveLabel } from '../../pipelines/labels/index.ts';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import { ingestFile, ingestFiles, inboxCandidates, processorByContent, recover, sampleId, sniffModality, type IngestContext, type IngestOutcome, type ReasonFile } from '../../pipelines/ingest/index.ts';
import { fileKeyOf } from '../../pipelines/ingest/files.ts';
import type { ProcessedSample } from '../../pipelines/types.ts';

const DAY = '2024-05-06';
const NOW = new Date(`${DAY}T12:00:00Z`);

interface Env {
  dir: string;
  store: SampleStore;
  ctx: IngestContext;
  calls: string[];
  put(source: string, content: string): string;
  done(): void;
}

/** A fake decoder: the bytes as numbers; content starting with BAD throws a plain Error, REJ a coded one. */
async function fakeProcess(bytes: Buffer): Promise<ProcessedSample> {
  const text = bytes.toString('utf8');
  if (text.startsWith('BAD')) throw new Error('cannot decode');
  if (text.startsWith('REJ')) throw new BonsaiError('BONSAI_INGEST_IMAGE_CORRUPT', 'coded reject', { why: 'test', big: 2n ** 70n });
  if (text.startsWith('NAN')) return { modality: 'image', features: Float32Array.from([Number.NaN]), shape: [1] };
  return { modality: 'image', features: Float32Array.from(bytes.subarray(0, 4)), shape: [Math.min(4, bytes.length)] };
}

function setup(overrides: Partial<IngestContext> = {}): Env {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-ingest-'));
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
    dir, store, ctx, calls,
    put(source, content) {
      const path = join(dir, 'inbox', source);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    },
    done() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function id(content: string): string {
  return sampleId(Buffer.from(content));
}

function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

test('an accepted file is stored, then moved to archive/<day>/<hash12>-<name>', async () => {
  const env = setup();
  try {
    const path = env.put('cat/x.png', 'abcd');
    const out = await ingestFile(path, env.ctx);
    const h = id('abcd');
    assert.deepEqual(out, { outcome: 'accepted', source: 'cat/x.png', id: h, modality: 'image', shape: [4], destination: join(env.dir, 'archive', DAY, `${h.slice(0, 12)}-x.png`), recovered: false });
    assert.equal(readFileSync(out.outcome === 'accepted' ? out.destination : '', 'utf8'), 'abcd');
    assert.equal(existsSync(path), false);
    assert.deepEqual(Array.from(env.store.getSample(h)?.features ?? []), [97, 98, 99, 100]);
    assert.equal(env.store.getSample(h)?.source, 'cat/x.png');
    assert.equal(env.store.getSample(h)?.label, 'cat');
  } finally {
    env.done();
  }
});

test('a second copy is a duplicate: archived, counted, not processed or stored again', async () => {
  const env = setup();
  try {
    await ingestFile(env.put('cat/x.png', 'abcd'), env.ctx);
    const out = await ingestFile(env.put('cat/y.png', 'abcd'), env.ctx);
    const h = id('abcd');
    assert.equal(out.outcome, 'duplicate');
    assert.deepEqual(env.calls, ['cat/x.png']);
    assert.deepEqual(ls(join(env.dir, 'archive', DAY)), [`${h.slice(0, 12)}-x.png`, `${h.slice(0, 12)}-y.png`]);
    assert.equal(env.store.counts().total, 1);
    assert.deepEqual(env.store.db.prepare('SELECT source, label FROM duplicates').all(), [{ source: 'cat/y.png', label: 'cat' }]);
    // The same bytes under the same name on the same day do not overwrite the first copy.
    const again = await ingestFile(env.put('cat/x.png', 'abcd'), env.ctx);
    assert.equal(again.outcome, 'duplicate');
    assert.deepEqual(ls(join(env.dir, 'archive', DAY)), [`${h.slice(0, 12)}-x.png`, `${h.slice(0, 12)}-y.png`, `${h.slice(0, 12)}.1-x.png`]);
    assert.equal(env.store.counts().duplicates, 2);
  } finally {
    env.done();
  }
});

test('rejects go to quarantine/<name> with a reason file written first; name clashes get a counter', async () => {
  const env = setup();
  try {
    const a = await ingestFile(env.put('cat/x.png', 'REJ1'), env.ctx);
    const b = await ingestFile(env.put('dog/x.png', 'BAD2'), env.ctx);
    assert.equal(a.outcome === 'rejected' && a.code, 'BONSAI_INGEST_IMAGE_CORRUPT');
    assert.equal(b.outcome === 'rejected' && b.code, 'BONSAI_INGEST_PROCESS_FAILED');
    const q = join(env.dir, 'quarantine');
    assert.deepEqual(ls(q), ['x-1.png', 'x-1.png.reason.json', 'x.png', 'x.png.reason.json']);
    const reason = JSON.parse(readFileSync(join(q, 'x.png.reason.json'), 'utf8')) as ReasonFile;
    assert.equal(reason.code, 'BONSAI_INGEST_IMAGE_CORRUPT');
    assert.equal(reason.message, 'coded reject');
    assert.deepEqual(reason.details, { why: 'test', big: '1180591620717411303424' }, 'BigInt details are written as strings');
    assert.equal(reason.time, NOW.toISOString());
    assert.equal(reason.source, 'cat/x.png');
    assert.equal(reason.id, id('REJ1'));
    const reasonB = JSON.parse(readFileSync(join(q, 'x-1.png.reason.json'), 'utf8')) as ReasonFile;
    assert.equal(reasonB.message, 'cannot decode');
    assert.equal(readFileSync(join(q, 'x-1.png'), 'utf8'), 'BAD2');
    assert.equal(env.store.counts().total, 0);
    assert.equal(env.store.db.prepare("SELECT count(*) FROM ingest_log WHERE outcome = 'rejected'").pluck().get(), 2);
  } finally {
    env.done();
  }
});

test('label errors, oversized files and non-finite features are rejected with their codes', async () => {
  const env = setup({
    maxFileBytes: 8,
    resolveLabel: (file) => {
      const label = file.source.split('/')[0];
      if (label === 'bad label') throw new BonsaiError('BONSAI_INGEST_LABEL_INVALID', `label ${JSON.stringify(label)} is not valid`, { label });
      return { target: { label } };
    },
  });
  try {
    const outs = await ingestFiles([env.put('bad label/a.png', 'aaaa'), env.put('cat/big.png', '0123456789'), env.put('cat/nan.png', 'NAN!')], env.ctx);
    assert.deepEqual(outs.map((o) => o.outcome === 'rejected' && o.code), ['BONSAI_INGEST_LABEL_INVALID', 'BONSAI_INGEST_FILE_TOO_LARGE', 'BONSAI_INGEST_BAD_FEATURES']);
    assert.equal(outs[1].outcome === 'rejected' && outs[1].id, null);
    assert.deepEqual(env.calls, ['cat/nan.png'], 'labels are checked before decoding; oversized files are not read');
    assert.equal(ls(join(env.dir, 'quarantine')).length, 6);
  } finally {
    env.done();
  }
});

test('sidecars and .done markers move with their file', async () => {
  const env = setup({
    resolveLabel: (file) => {
      const sidecar = `${file.path.replace(/\.wav$/, '')}.txt`;
      return { target: { transcript: readFileSync(sidecar, 'utf8') }, sidecars: [sidecar] };
    },
  });
  try {
    env.put('speech/a.wav', 'wav1');
    env.put('speech/a.txt', 'hello');
    env.put('speech/a.wav.done', '');
    const out = await ingestFile(join(env.dir, 'inbox', 'speech/a.wav'), env.ctx);
    assert.equal(out.outcome, 'accepted');
    const p = id('wav1').slice(0, 12);
    assert.deepEqual(ls(join(env.dir, 'archive', DAY)), [`${p}-a.txt`, `${p}-a.wav`, `${p}-a.wav.done`]);
    assert.deepEqual(ls(join(env.dir, 'inbox', 'speech')), []);
    assert.equal(env.store.getSample(id('wav1'))?.transcript, 'hello');
    assert.deepEqual(env.store.findIngest('speech/a.wav', env.store.db.prepare('SELECT file_key FROM ingest_log').pluck().get() as string)?.sidecars, ['speech/a.txt', 'speech/a.wav.done']);
  } finally {
    env.done();
  }
});

test('a recording whose sidecar transcript is a link, a FIFO or not UTF-8 is rejected with it, never labelled by its folder', async () => {
  const inboxRoot = (dir: string) => join(dir, 'inbox');
  let root = '';
  const env = setup({
    resolveLabel: async (file) => {
      const r = await resolveLabel(file.path, { inboxRoot: inboxRoot(root), modality: file.modality });
      return r.kind === 'class' ? { target: { label: r.value } } : { target: { transcript: r.value }, sidecars: r.sidecar !== undefined ? [r.sidecar] : [] };
    },
  });
  root = env.dir;
  const outside = mkdtempSync(join(tmpdir(), 'bonsai-outside-'));
  try {
    const wav = (name: string) => env.put(`tx/${name}`, `RIFF\0\0\0\0WAVE${name}`);
    writeFileSync(join(outside, 'secret.txt'), 'secret words');
    wav('c.wav');
    symlinkSync(join(outside, 'secret.txt'), join(env.dir, 'inbox', 'tx', 'c.wav.txt'));
    wav('d.wav');
    execFileSync('mkfifo', [join(env.dir, 'inbox', 'tx', 'd.wav.txt')]);
    wav('e.wav');
    writeFileSync(join(env.dir, 'inbox', 'tx', 'e.txt'), Buffer.from([0x66, 0xff, 0x66]));
    // The link and the FIFO named like transcripts are not inputs of their own: they wait for their recordings.
    assert.deepEqual(inboxCandidates(join(env.dir, 'inbox')).map((p) => p.slice(join(env.dir, 'inbox').length + 1)), ['tx/c.wav', 'tx/d.wav', 'tx/e.wav']);
    const outs = await ingestFiles(['c.wav', 'd.wav', 'e.wav'].map((n) => join(env.dir, 'inbox', 'tx', n)), env.ctx);
    assert.deepEqual(outs.map((o) => [o.source, o.outcome, o.outcome === 'rejected' ? o.code : null]), [
      ['tx/c.wav', 'rejected', 'BONSAI_INGEST_TRANSCRIPT_INVALID'], ['tx/d.wav', 'rejected', 'BONSAI_INGEST_TRANSCRIPT_INVALID'], ['tx/e.wav', 'rejected', 'BONSAI_INGEST_TRANSCRIPT_INVALID'],
    ]);
    const q = join(env.dir, 'quarantine');
    assert.deepEqual(ls(join(env.dir, 'inbox', 'tx')), [], 'the sidecars went with their recordings');
    assert.ok(ls(q).includes('c.wav.txt') && lstatSync(join(q, 'c.wav.txt')).isSymbolicLink(), 'the link itself moved, not what it points at');
    assert.ok(lstatSync(join(q, 'd.wav.txt')).isFIFO());
    assert.ok(ls(q).includes('e.txt'));
    assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'secret words');
    assert.equal(env.store.counts().total, 0);
  } finally {
    env.done();
    rmSync(outside, { recursive: true, force: true });
  }
});

test('a manifest that cannot be used leaves the files under it in the inbox, skipped with its code, until it is mended', async () => {
  let root = '';
  const manifests = new ManifestCache();
  const env = setup({
    resolveLabel: async (file) => {
      const r = await resolveLabel(file.path, { inboxRoot: join(root, 'inbox'), modality: file.modality, manifests });
      return r.kind === 'class' ? { target: { label: r.value } } : { target: { transcript: r.value } };
    },
  });
  root = env.dir;
  try {
    env.put('seven/x1.png', 'x1');
    env.put('seven/x2.png', 'x2');
    env.put('manifest.jsonl', `${JSON.stringify({ file: 'seven/x1.png', label: 'eight' })}\nnot json\n`);
    const first = await ingestFiles(['seven/x1.png', 'seven/x2.png'].map((s) => join(env.dir, 'inbox', s)), env.ctx);
    assert.deepEqual(first.map((o) => [o.outcome, o.outcome === 'skipped' ? o.code : null]), [['skipped', 'BONSAI_INGEST_MANIFEST_INVALID'], ['skipped', 'BONSAI_INGEST_MANIFEST_INVALID']]);
    assert.match(first[0].outcome === 'skipped' ? first[0].message : '', /line 2/);
    assert.deepEqual(ls(join(env.dir, 'inbox', 'seven')), ['x1.png', 'x2.png'], 'nothing quarantined');
    assert.deepEqual(ls(join(env.dir, 'quarantine')), []);
    // Mended (a new mtime and size): the manifest's label and the folder's apply.
    env.put('manifest.jsonl', `${JSON.stringify({ file: 'seven/x1.png', label: 'eight' })}\n`);
    const second = await ingestFiles(['seven/x1.png', 'seven/x2.png'].map((s) => join(env.dir, 'inbox', s)), env.ctx);
    assert.deepEqual(second.map((o) => o.outcome), ['accepted', 'accepted']);
    assert.equal(env.store.getSample(id('x1'))?.label, 'eight');
    assert.equal(env.store.getSample(id('x2'))?.label, 'seven');
  } finally {
    env.done();
  }
});

test('a path with a control character (newline, tab, escape) is quarantined as bonsai check refuses it', async () => {
  const env = setup();
  try {
    const names = ['cat/new\nline.png', 'cat/tab\there.png', 'cat/esc\u001b[31m.png'];
    for (const n of names) env.put(n, 'x');
    const outs = await ingestFiles(names.map((n) => join(env.dir, 'inbox', n)), env.ctx);
    assert.deepEqual(outs.map((o) => [o.outcome, o.outcome === 'rejected' ? o.code : null]), names.map(() => ['rejected', 'BONSAI_INGEST_FILE_NAME_INVALID']));
    assert.match(outs[0].outcome === 'rejected' ? outs[0].message : '', /control character U\+000A/);
    assert.deepEqual(env.calls, [], 'nothing decoded');
    assert.deepEqual(ls(join(env.dir, 'inbox', 'cat')), []);
  } finally {
    env.done();
  }
});

test('many files commit in groups; two copies in one group store one sample and one duplicate', async () => {
  const env = setup();
  try {
    const steps: string[] = [];
    env.ctx.onStep = (step) => steps.push(step);
    const paths = Array.from({ length: 9 }, (_, i) => env.put(`c${i % 3}/f${i}.png`, i === 8 || i === 5 ? 'same' : `f${i}-file`));
    const outs = await ingestFiles(paths, env.ctx, { concurrency: 3, batchSize: 4, maxDelayMs: 1000 });
    assert.deepEqual(outs.map((o) => o.source), paths.map((_, i) => `c${i % 3}/f${i}.png`));
    assert.deepEqual(outs.map((o) => o.outcome).sort(), [...Array(8).fill('accepted'), 'duplicate'].sort());
    assert.equal(steps.filter((s) => s === 'transaction').length, 3, '9 files in groups of at most 4');
    assert.ok(steps.indexOf('commit') < steps.indexOf('moved'), 'moves come after the commit');
    assert.equal(env.store.counts().total, 8);
    assert.equal(env.store.counts().duplicates, 1);
    assert.deepEqual(inboxCandidates(join(env.dir, 'inbox')), []);
  } finally {
    env.done();
  }
});

test('a vanished file is skipped; a path outside the inbox is refused', async () => {
  const env = setup();
  try {
    const out: IngestOutcome = await ingestFile(join(env.dir, 'inbox', 'cat', 'gone.png'), env.ctx);
    assert.equal(out.outcome === 'skipped' && out.code, 'BONSAI_INGEST_VANISHED');
    await assert.rejects(ingestFile(join(env.dir, 'elsewhere.png'), env.ctx), { code: 'BONSAI_INGEST_OUTSIDE_INBOX' });
  } finally {
    env.done();
  }
});

test('recover archives committed files left in the inbox, once, and finishes or cleans quarantine', async () => {
  const env = setup();
  try {
    // A committed file left in the inbox: commit by hand as the ingestor would, without moving.
    const left = env.put('cat/left.png', 'left');
    env.store.commitIngest([{ kind: 'sample', id: id('left'), source: 'cat/left.png', fileKey: fileKeyOf(statSync(left, { bigint: true })), sample: await fakeProcess(Buffer.from('left')), target: { label: 'cat' }, sidecars: [] }]);
    // A reason written but the file not moved yet.
    const rej = env.put('cat/rej.png', 'REJ');
    const q = join(env.dir, 'quarantine');
    mkdirSync(q, { recursive: true });
    const reason: ReasonFile = { code: 'BONSAI_INGEST_IMAGE_CORRUPT', message: 'm', details: {}, time: NOW.toISOString(), source: 'cat/rej.png', id: id('REJ'), fileKey: fileKeyOf(statSync(rej, { bigint: true })), file: 'rej.png', sidecars: [] };
    writeFileSync(join(q, 'rej.png.reason.json'), JSON.stringify(reason));
    // An orphan reason, a quarantined file without reason, a temp file.
    writeFileSync(join(q, 'ghost.png.reason.json'), JSON.stringify({ ...reason, source: 'cat/ghost.png', file: 'ghost.png' }));
    writeFileSync(join(q, 'lonely.png'), 'lonely');
    writeFileSync(join(q, '.x.png.reason.json.123.tmp'), '{');
    // A new, uncommitted file: not recover's business.
    env.put('cat/new.png', 'new');

    const report = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual(report.archived.map((o) => [o.source, o.outcome, o.outcome === 'accepted' && o.recovered]), [['cat/left.png', 'accepted', true]]);
    assert.deepEqual(report.rejectsCompleted, ['cat/rej.png']);
    assert.deepEqual(report.orphanReasonsRemoved, [join(q, 'ghost.png.reason.json')]);
    assert.deepEqual(report.reasonsWritten, [join(q, 'lonely.png')]);
    assert.deepEqual(report.tempFilesRemoved, [join(q, '.x.png.reason.json.123.tmp')]);
    assert.deepEqual(ls(q), ['lonely.png', 'lonely.png.reason.json', 'rej.png', 'rej.png.reason.json']);
    assert.equal((JSON.parse(readFileSync(join(q, 'lonely.png.reason.json'), 'utf8')) as ReasonFile).code, 'BONSAI_INGEST_REASON_LOST');
    assert.deepEqual(ls(join(env.dir, 'inbox', 'cat')), ['new.png']);
    assert.deepEqual(ls(join(env.dir, 'archive', DAY)), [`${id('left').slice(0, 12)}-left.png`]);
    assert.equal(env.store.counts().duplicates, 0);
    // Running it again changes nothing.
    const again = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual([again.archived, again.rejectsCompleted, again.orphanReasonsRemoved, again.reasonsWritten, again.tempFilesRemoved], [[], [], [], [], []]);
  } finally {
    env.done();
  }
});

test('recover trusts only reason files it wrote: a user\'s x.reason.json is data, and crafted paths never leave the inbox or quarantine', async () => {
  const env = setup();
  const outside = mkdtempSync(join(tmpdir(), 'bonsai-victim-'));
  try {
    const q = join(env.dir, 'quarantine');
    mkdirSync(q, { recursive: true });
    // A user's file named like a reason file, quarantined under its own name with our reason beside it.
    writeFileSync(join(q, 'notes.reason.json'), '{"hello":"world"}');
    const notesReason: ReasonFile = { code: 'BONSAI_INGEST_UNSUPPORTED_FILE', message: 'm', details: {}, time: NOW.toISOString(), source: 'lbl/notes.reason.json', id: id('{"hello":"world"}'), fileKey: '1:2:3', file: 'notes.reason.json', sidecars: [] };
    writeFileSync(join(q, 'notes.reason.json.reason.json'), JSON.stringify(notesReason));
    // A crafted "reason file" (quarantined user data) that would move a file from outside the inbox in...
    const victim = join(outside, 'victim.txt');
    writeFileSync(victim, 'victim');
    const victimKey = fileKeyOf(statSync(victim, { bigint: true }));
    writeFileSync(join(q, 'evil.reason.json'), JSON.stringify({ ...notesReason, source: `../../..${outside}/victim.txt`, fileKey: victimKey, file: '../moved.txt' }));
    // ...and one, named after its file and without its own reason, whose sidecar would carry the store out of the state dir.
    const bait = env.put('lbl/.bait', 'bait');
    writeFileSync(join(q, 'x.png.reason.json'), JSON.stringify({ ...notesReason, source: 'lbl/.bait', fileKey: fileKeyOf(statSync(bait, { bigint: true })), file: 'x.png', sidecars: [{ source: '../store.db', file: `../../${basename(env.dir)}-store.db` }] }));

    const report = recover(env.dir, env.store, { now: () => NOW });
    assert.ok(existsSync(victim), 'a file outside the state dir is never moved');
    assert.ok(existsSync(join(env.dir, 'store.db')), 'the store is never moved');
    assert.ok(!existsSync(join(env.dir, 'moved.txt')) && !existsSync(join(dirname(env.dir), `${basename(env.dir)}-store.db`)));
    assert.equal(readFileSync(join(q, 'notes.reason.json'), 'utf8'), '{"hello":"world"}', 'the user\'s file is kept');
    assert.deepEqual(report.rejectsCompleted, []);
    // The two crafted files are unreadable as ours: kept as data, each given a reason of its own; the invalid x.png.reason.json is not ours either.
    assert.deepEqual(report.orphanReasonsRemoved, []);
    assert.deepEqual(report.reasonsWritten.sort(), [join(q, 'evil.reason.json'), join(q, 'x.png.reason.json')]);
    assert.ok(existsSync(bait), 'the bait stays where it was');
    assert.deepEqual(ls(q), ['evil.reason.json', 'evil.reason.json.reason.json', 'notes.reason.json', 'notes.reason.json.reason.json', 'x.png.reason.json', 'x.png.reason.json.reason.json']);
    // Stable: a second start changes nothing.
    const again = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual([again.rejectsCompleted, again.orphanReasonsRemoved, again.reasonsWritten], [[], [], []]);
    assert.equal(readFileSync(join(q, 'notes.reason.json'), 'utf8'), '{"hello":"world"}');
  } finally {
    env.done();
    rmSync(outside, { recursive: true, force: true });
  }
});

test('recover goes on when a quarantine entry cannot be removed: reported as stuck, the start is not stopped', async () => {
  const env = setup();
  try {
    const q = join(env.dir, 'quarantine');
    // A folder named like a temp file and one like an orphan reason file: unlink refuses both (EISDIR), as a
    // read-only quarantine/ would refuse a file.
    mkdirSync(join(q, '.old.reason.json.999999.tmp'), { recursive: true });
    writeFileSync(join(q, 'ok.png'), 'x');
    const report = recover(env.dir, env.store, { now: () => NOW });
    assert.deepEqual(report.stuck.map((s) => s.source), ['quarantine/.old.reason.json.999999.tmp']);
    assert.deepEqual(report.reasonsWritten, [join(q, 'ok.png')], 'the rest of recovery went on');
  } finally {
    env.done();
  }
});

test('a copy under another label relabels the sample: archived, not processed again, the change reported and kept', async () => {
  const env = setup();
  try {
    await ingestFile(env.put('cat/x.png', 'abcd'), env.ctx);
    const out = await ingestFile(env.put('dog/x.png', 'abcd'), env.ctx);
    const h = id('abcd');
    assert.deepEqual(env.calls, ['cat/x.png']);
    assert.equal(out.outcome, 'relabeled');
    assert.ok(out.outcome === 'relabeled');
    assert.equal(out.destination, join(env.dir, 'archive', DAY, `${h.slice(0, 12)}.1-x.png`));
    assert.deepEqual(out.relabel?.from, { label: 'cat', transcript: null });
    assert.deepEqual(out.relabel?.to, { label: 'dog', transcript: null });
    assert.equal(env.store.getSample(h)?.label, 'dog');
    assert.equal(env.store.getSample(h)?.trainedVersion, null);
    assert.deepEqual(env.store.counts().byLabel, { dog: 1 });
    assert.equal(env.store.counts().duplicates, 0);
  } finally {
    env.done();
  }
});

test('the same bytes dropped again at the same path after archiving are a duplicate, not a recovery', async () => {
  const env = setup();
  try {
    await ingestFile(env.put('cat/x.png', 'abcd'), env.ctx);
    const staged = join(env.dir, 'staging.png');
    writeFileSync(staged, 'abcd');
    renameSync(staged, join(env.dir, 'inbox', 'cat', 'x.png'));
    assert.equal(recover(env.dir, env.store).archived.length, 0);
    const out = await ingestFile(join(env.dir, 'inbox', 'cat', 'x.png'), env.ctx);
    assert.equal(out.outcome, 'duplicate');
    assert.equal(env.store.counts().duplicates, 1);
  } finally {
    env.done();
  }
});

test('files go to the pipeline their first bytes name; other content is rejected', async () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const wav = Buffer.from('RIFF\0\0\0\0WAVEfmt ');
  assert.equal(sniffModality(png), 'image');
  assert.equal(sniffModality(wav), 'audio');
  assert.equal(sniffModality(Buffer.from('hello')), undefined);
  const seen: string[] = [];
  const processor = processorByContent({
    image: async () => { seen.push('image'); return { modality: 'image', features: new Float32Array(1), shape: [1] }; },
    audio: async () => { seen.push('audio'); return { modality: 'audio', features: new Float32Array(1), shape: [1, 1] }; },
  });
  await processor(wav, { path: '/x', source: 'x' });
  await processor(png, { path: '/y', source: 'y' });
  await assert.rejects(processor(Buffer.from('just text'), { path: '/z', source: 'z.png' }), { code: 'BONSAI_INGEST_FORMAT_UNKNOWN' });
  assert.deepEqual(seen, ['audio', 'image']);
});

test('the label resolver and the processor are told the sniffed modality', async () => {
  const seen: unknown[] = [];
  const env = setup({
    resolveLabel: (file) => { seen.push(file.modality); return { target: { label: 'x' } }; },
    process: async (bytes, file) => { seen.push(file.modality); return fakeProcess(bytes); },
  });
  try {
    await ingestFile(env.put('x/a.wav', 'RIFF\0\0\0\0WAVEfmt '), env.ctx);
    await ingestFile(env.put('x/b.txt.bin', 'plain'), env.ctx);
    assert.deepEqual(seen, ['audio', 'audio', undefined, undefined]);
  } finally {
    env.done();
  }
});
