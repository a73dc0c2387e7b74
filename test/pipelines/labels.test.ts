import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import {
  applyLabelPolicy, isInside, ManifestCache, normalizeTranscript, parseManifest, printable, readRegularFile, resolveLabel, validateClassLabel,
} from '../../pipelines/labels/index.ts';
import { isSampleName } from '../../pipelines/ingest/index.ts';

const codeIs = (code: string) => (e: unknown): boolean => e instanceof BonsaiError && e.code === code;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bonsai-labels-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('class labels: the pattern [A-Za-z0-9_-]{1,64} and nothing else', () => {
  for (const ok of ['7', 'cat', 'Cat_2', 'a-b', 'x'.repeat(64), '-', '_']) assert.equal(validateClassLabel(ok, 'folder'), ok);
  const bad: [unknown, RegExp][] = [
    ['', /is empty/], ['..', /relative path component/], ['.', /relative path component/], ['../x', /path separator "\/"/], ['a\\b', /path separator "\\\\"/],
    ['a\u0000b', /control character U\+0000/], ['a\nb', /control character U\+000A/], ['a\u0085', /control character U\+0085/],
    ['x'.repeat(65), /65 characters, at most 64/], ['caf\u00e9', /non-ASCII character U\+00E9/], ['\u202e7', /U\+202E/],
    ['\u0430', /U\+0430/], ['a\u200bb', /U\+200B/], ['\uff17', /U\+FF17/], ['a b', /contains " "/], ['a.b', /contains "\."/], [7, /not a string/], [null, /not a string/],
  ];
  for (const [label, message] of bad) {
    assert.throws(() => validateClassLabel(label, 'manifest'), (e: unknown) => codeIs('BONSAI_INGEST_LABEL_INVALID')(e) && message.test((e as Error).message), `label ${JSON.stringify(label)}`);
  }
});

test('printable escapes everything outside printable ASCII and cuts long strings', () => {
  assert.equal(printable('a\u0000\u202eb'), "'a\\u{0}\\u{202E}b'");
  assert.equal(printable("it's"), "'it\\'s'");
  assert.equal(printable('x'.repeat(100), 5), "'xxxxx...'");
});

test('transcripts are normalised: compatibility forms, accents, case, punctuation, spaces', () => {
  assert.equal(normalizeTranscript('  Hello,   WORLD!\n'), 'hello world');
  assert.equal(normalizeTranscript('\uFEFFCaf\u00e9 Na\u00efve'), 'cafe naive');
  assert.equal(normalizeTranscript('It\u2019s \uff21\uff22'), "it's ab"); // typographic apostrophe, fullwidth letters
  assert.equal(normalizeTranscript('twenty-one\tsix'), 'twenty one six');
  assert.equal(normalizeTranscript('\ufb01ne'), 'fine'); // the fi ligature
});

test('bad transcripts are rejected with the character and position', () => {
  const cases: [string, RegExp][] = [
    ['', /empty after normalisation/], ['?!', /empty after normalisation/], ['a\u0000b', /control character U\+0000 at position 1/],
    ['a\u202eb', /invisible format character U\+202E at position 1/], ['call 911', /"9" \(U\+0039\) at position 5.*spell numbers out/],
    ['\u043f\u0440\u0438\u0432\u0435\u0442', /U\+043F/], ['ab '.repeat(200), /599 characters after normalisation, at most 512/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => normalizeTranscript(text), (e: unknown) => codeIs('BONSAI_INGEST_TRANSCRIPT_INVALID')(e) && message.test((e as Error).message), JSON.stringify(text));
  }
  assert.equal(normalizeTranscript('call 911', { alphabet: [...'acl 19'] }), 'call 911');
  assert.throws(() => normalizeTranscript('abc', { maxLength: 2 }), codeIs('BONSAI_INGEST_TRANSCRIPT_INVALID'));
});

test('label policy: known labels pass, new ones become new classes or are rejected', () => {
  const known = new Set(['0', '1']);
  assert.deepEqual(applyLabelPolicy('1', known, 'reject'), { label: '1', isNew: false });
  assert.deepEqual(applyLabelPolicy('2', known, 'new-class'), { label: '2', isNew: true });
  assert.deepEqual(applyLabelPolicy('2', ['0', '1'], 'new-class'), { label: '2', isNew: true });
  assert.deepEqual(applyLabelPolicy('2', undefined, 'reject'), { label: '2', isNew: false });
  assert.throws(() => applyLabelPolicy('2', known, 'reject'), (e: unknown) => codeIs('BONSAI_INGEST_LABEL_UNKNOWN')(e) && /'2' is not one of the 2 known classes \(0, 1\)/.test((e as Error).message));
});

test('manifests: parsed whole, paths normalised, bad lines named by number', () => {
  const entries = parseManifest('{"file": "a.png", "label": "7"}\n\n{"file": "./sub/b.wav", "transcript": "hi"}\n{"file": "a.png", "label": "7"}\n');
  assert.deepEqual([...entries.keys()], ['a.png', 'sub/b.wav']);
  assert.equal(entries.get('sub/b.wav')?.transcript, 'hi');
  assert.equal(entries.get('sub/b.wav')?.line, 3);
  const bad: [string, RegExp][] = [
    ['{"file": "a.png", "label": "7"}\nnot json', /line 2: not JSON/],
    ['[1]', /line 1: not a JSON object/],
    ['{"label": "7"}', /"file" is missing/],
    ['{"file": "a.png"}', /exactly one of "label" and "transcript"/],
    ['{"file": "a.png", "label": "7", "transcript": "x"}', /exactly one/],
    ['{"file": "/etc/passwd", "label": "7"}', /is absolute/],
    ['{"file": "C:x.png", "label": "7"}', /is absolute/],
    ['{"file": "a/../../b.png", "label": "7"}', /leaves the manifest's folder/],
    ['{"file": "a\\\\b.png", "label": "7"}', /backslash/],
    ['{"file": "a\\u0000.png", "label": "7"}', /control character/],
    ['{"file": "", "label": "7"}', /file is empty/],
    ['{"file": "a.png", "label": "7"}\n{"file": "a.png", "label": "8"}', /line 2: 'a.png' is labelled differently on line 1/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseManifest(text, 'm.jsonl'), (e: unknown) => codeIs('BONSAI_INGEST_MANIFEST_INVALID')(e) && message.test((e as Error).message), text);
  }
});

test('resolveLabel: manifest, then sidecar (audio only), then folder', async () => {
  const inbox = join(dir, 'inbox');
  await mkdir(join(inbox, 'dog', 'deeper'), { recursive: true });
  await mkdir(join(inbox, 'batch'), { recursive: true });
  await writeFile(join(inbox, 'dog', 'a.png'), 'x');
  await writeFile(join(inbox, 'dog', 'deeper', 'b.png'), 'x');
  assert.deepEqual(await resolveLabel(join(inbox, 'dog', 'a.png'), { inboxRoot: inbox }), { kind: 'class', value: 'dog', source: 'folder', isNew: false });
  assert.equal((await resolveLabel(join(inbox, 'dog', 'deeper', 'b.png'), { inboxRoot: inbox })).value, 'dog');
  // A batch folder with its own manifest: the manifest names the label, not the folder.
  await writeFile(join(inbox, 'batch', 'manifest.jsonl'), '{"file": "c.png", "label": "cat"}\n');
  assert.deepEqual(await resolveLabel(join(inbox, 'batch', 'c.png'), { inboxRoot: inbox, knownLabels: ['dog'] }), { kind: 'class', value: 'cat', source: 'manifest', isNew: true });
  // A root manifest with a path relative to the root.
  await writeFile(join(inbox, 'manifest.jsonl'), '{"file": "dog/deeper/b.png", "label": "wolf"}\n{"file": "loose.wav", "transcript": "Yes."}\n');
  assert.equal((await resolveLabel(join(inbox, 'dog', 'deeper', 'b.png'), { inboxRoot: inbox })).value, 'wolf');
  assert.deepEqual(await resolveLabel(join(inbox, 'loose.wav'), { inboxRoot: inbox, modality: 'audio' }), { kind: 'transcript', value: 'yes', source: 'manifest', isNew: false });
  // Sidecars count for audio only.
  await writeFile(join(inbox, 'dog', 'say.wav'), 'x');
  await writeFile(join(inbox, 'dog', 'say.wav.txt'), 'Good Dog\n');
  assert.deepEqual(await resolveLabel(join(inbox, 'dog', 'say.wav'), { inboxRoot: inbox, modality: 'audio' }), { kind: 'transcript', value: 'good dog', source: 'sidecar', isNew: false, sidecar: join(inbox, 'dog', 'say.wav.txt') });
  // Without `x.wav.txt`, the stem's `x.txt` is the transcript; `x.wav.txt` wins when both are there.
  await writeFile(join(inbox, 'hello.wav'), 'x');
  await writeFile(join(inbox, 'hello.txt'), 'Hello there');
  assert.deepEqual(await resolveLabel(join(inbox, 'hello.wav'), { inboxRoot: inbox, modality: 'audio' }), { kind: 'transcript', value: 'hello there', source: 'sidecar', isNew: false, sidecar: join(inbox, 'hello.txt') });
  await writeFile(join(inbox, 'hello.wav.txt'), 'Goodbye');
  assert.equal((await resolveLabel(join(inbox, 'hello.wav'), { inboxRoot: inbox, modality: 'audio' })).value, 'goodbye');
  await writeFile(join(inbox, 'dog', 'odd.txt'), Buffer.from([0x68, 0xff]));
  await assert.rejects(resolveLabel(join(inbox, 'dog', 'odd.wav'), { inboxRoot: inbox, modality: 'audio' }), (e: unknown) => codeIs('BONSAI_INGEST_TRANSCRIPT_INVALID')(e) && /odd\.txt is not valid UTF-8/.test((e as Error).message));
  await writeFile(join(inbox, 'dog', 'pic.png.txt'), 'ignored');
  assert.equal((await resolveLabel(join(inbox, 'dog', 'pic.png'), { inboxRoot: inbox, modality: 'image' })).source, 'folder');
  await writeFile(join(inbox, 'dog', 'bad.wav.txt'), Buffer.from([0x68, 0xff, 0xfe]));
  await assert.rejects(resolveLabel(join(inbox, 'dog', 'bad.wav'), { inboxRoot: inbox, modality: 'audio' }), (e: unknown) => codeIs('BONSAI_INGEST_TRANSCRIPT_INVALID')(e) && /not valid UTF-8/.test((e as Error).message));
  await assert.rejects(resolveLabel(join(inbox, 'other.png'), { inboxRoot: inbox }), codeIs('BONSAI_INGEST_LABEL_MISSING'));
  await assert.rejects(resolveLabel(join(dir, 'outside.png'), { inboxRoot: inbox }), codeIs('BONSAI_INGEST_LABEL_MISSING'));
  await assert.rejects(resolveLabel(join(inbox, 'dog', 'a.png'), { inboxRoot: inbox, knownLabels: new Set(['cat']), policy: 'reject' }), codeIs('BONSAI_INGEST_LABEL_UNKNOWN'));
});

test('ManifestCache re-reads a manifest only when it changes', async () => {
  const folder = join(dir, 'cache');
  await mkdir(folder);
  const path = join(folder, 'manifest.jsonl');
  await writeFile(path, '{"file": "a.png", "label": "1"}\n');
  const cache = new ManifestCache();
  const first = await cache.get(path, 'manifest.jsonl');
  assert.equal(await cache.get(path, 'manifest.jsonl'), first, 'same object while unchanged');
  await writeFile(path, '{"file": "a.png", "label": "22"}\n');
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  assert.equal((await cache.get(path, 'manifest.jsonl'))?.get('a.png')?.label, '22');
  assert.equal(await cache.get(join(folder, 'none.jsonl'), 'none'), undefined);
  await symlink(path, join(folder, 'link.jsonl'));
  await assert.rejects(cache.get(join(folder, 'link.jsonl'), 'link.jsonl'), (e: unknown) => codeIs('BONSAI_INGEST_MANIFEST_INVALID')(e) && /symbolic link/.test((e as Error).message));
});

test('readRegularFile: bytes of regular files only, size checked before reading', async () => {
  const file = join(dir, 'r.bin');
  await writeFile(file, Buffer.from([1, 2, 3]));
  const ok = await readRegularFile(file, 3);
  assert.ok(ok.ok && ok.bytes.equals(Buffer.from([1, 2, 3])));
  assert.deepEqual(await readRegularFile(file, 2), { ok: false, reason: 'too-large', message: 'has 3 bytes, more than the limit of 2', size: 3 });
  assert.equal((await readRegularFile(join(dir, 'none'), 9)).ok, false);
  assert.equal(((await readRegularFile(join(dir, 'none'), 9)) as { reason: string }).reason, 'not-found');
  assert.equal(((await readRegularFile(join(file, 'child'), 9)) as { reason: string }).reason, 'not-found');
  assert.equal(((await readRegularFile(dir, 9)) as { reason: string }).reason, 'directory');
  await symlink(file, join(dir, 'r.link'));
  assert.equal(((await readRegularFile(join(dir, 'r.link'), 9)) as { reason: string }).reason, 'symlink');
  assert.equal(((await readRegularFile(join(dir, 'x'.repeat(300)), 9)) as { reason: string }).reason, 'name-invalid');
});

test('readRegularFile reads files whose size stat does not know (procfs), still within the limit', { skip: process.platform !== 'linux' }, async () => {
  const status = await readRegularFile('/proc/self/status', 1 << 20);
  assert.ok(status.ok, 'read');
  assert.match(status.bytes.toString('utf8'), /^Name:\t.*\n[\s\S]*\nPid:\t\d+\n/);
  assert.deepEqual(await readRegularFile('/proc/self/status', 10), { ok: false, reason: 'too-large', message: 'grew past the limit of 10 bytes while being read', size: 11 });
  const mem = await readRegularFile('/proc/self/mem', 100);
  assert.equal(mem.ok, false);
  assert.equal((mem as { reason: string }).reason, 'unreadable');
});

test('inbox helpers: inside-ness, and files beside the samples are not samples', () => {
  assert.equal(isInside('/in', '/in/a/b.png'), true);
  assert.equal(isInside('/in', '/in'), false);
  assert.equal(isInside('/in', '/in/../out/x.png'), false);
  assert.equal(isInside('/in', '/inbox/x.png'), false);
  assert.equal(isInside('/in', '/in/..hidden/x.png'), true);
  for (const name of ['manifest.jsonl', 'a/x.wav.txt', '.partial.png', 'x.png.done']) assert.equal(isSampleName(name), false, name);
  for (const name of ['x.png', 'a/manifest.jsonl.png', 'x.wav']) assert.equal(isSampleName(name), true, name);
});
