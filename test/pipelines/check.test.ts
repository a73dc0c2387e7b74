import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAudioSpec } from '../../pipelines/audio/index.ts';
import { checkFile, formatVerdict, inspectFile, type CheckOptions } from '../../pipelines/check.ts';
import { ManifestCache } from '../../pipelines/labels/index.ts';
import { spec, syntheticDigit, TEST_LIMITS } from './corpus/images.ts';
import { writeHostileCorpus, type CorpusEntry } from './corpus/hostile.ts';
import { sinePcm16, wavBytes } from './corpus/wav.ts';

let dir: string;
let corpus: CorpusEntry[];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bonsai-check-'));
  await mkdir(join(dir, 'corpus'));
  corpus = await writeHostileCorpus(join(dir, 'corpus'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<CheckOptions> = {}): CheckOptions {
  return { imageSpec: spec({ resize: 'mnist' }), audioSpec: { ...defaultAudioSpec }, limits: TEST_LIMITS, ...overrides };
}

for (const imageSpec of [spec({ resize: 'mnist' }), spec({ resize: 'fit', channels: 3, height: 32, width: 32, range: [-1, 1] })]) {
  test(`every hostile input gets its expected verdict (${imageSpec.resize})`, async () => {
    const rejected = corpus.filter((e) => e.expectCode !== null);
    assert.ok(rejected.length >= 30, `${rejected.length} kinds of bad input`);
    assert.ok(new Set(corpus.map((e) => e.name)).size === corpus.length, 'case names are unique');
    const manifests = new ManifestCache();
    for (const entry of corpus) {
      const verdict = await checkFile(entry.path, options({ imageSpec, inboxRoot: entry.inboxRoot, manifests }));
      assert.equal(verdict.file, entry.path);
      if (entry.expectCode === null) {
        assert.equal(verdict.ok, true, `${entry.name}: ${formatVerdict(verdict)}`);
        assert.equal(verdict.code, undefined);
      } else {
        assert.equal(verdict.ok, false, `${entry.name}: ${formatVerdict(verdict)}`);
        assert.equal(verdict.code, entry.expectCode, `${entry.name}: ${formatVerdict(verdict)}`);
        assert.ok(verdict.message.length > 0);
      }
    }
  });
}

test('verdicts have exactly the fields of the `bonsai check --json` contract', async () => {
  const png = join(dir, 'contract.png');
  await writeFile(png, await syntheticDigit());
  const ok = await checkFile(png, options());
  assert.deepEqual(Object.keys(ok).sort(), ['file', 'message', 'modality', 'ok', 'shape']);
  assert.deepEqual({ file: ok.file, ok: ok.ok, modality: ok.modality, shape: ok.shape }, { file: png, ok: true, modality: 'image', shape: [28, 28, 1] });
  assert.match(ok.message, /^PNG 120x90 \(light background, inverted\) -> \[28, 28, 1\]$/);
  const missing = await checkFile(join(dir, 'nope.png'), options());
  assert.deepEqual(Object.keys(missing).sort(), ['code', 'file', 'message', 'ok']);
  const wav = join(dir, 'contract.wav');
  await writeFile(wav, wavBytes({ channels: 2, data: sinePcm16(0.25, 16000, 300, 2) }));
  const audio = await checkFile(wav, options());
  assert.equal(audio.ok, true, audio.message);
  assert.equal(audio.modality, 'audio');
  assert.equal(audio.shape?.[1], 39);
  // A rejected file whose modality is known says so.
  await writeFile(join(dir, 'truncated.wav'), wavBytes({ data: sinePcm16(0.25) }).subarray(0, 100));
  const truncated = await checkFile(join(dir, 'truncated.wav'), options());
  assert.deepEqual(Object.keys(truncated).sort(), ['code', 'file', 'message', 'modality', 'ok']);
  assert.equal(truncated.modality, 'audio');
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(truncated)));
});

test('with the model\'s modality, content of the other one gets BONSAI_INGEST_WRONG_MODALITY, as the daemon gives it', async () => {
  const wav = join(dir, 'modality.wav');
  const png = join(dir, 'modality.png');
  await writeFile(wav, wavBytes({ data: sinePcm16(0.5) }));
  await writeFile(png, await syntheticDigit(3));
  const image = await checkFile(wav, options({ modality: 'image' }));
  assert.deepEqual([image.ok, image.code, image.modality], [false, 'BONSAI_INGEST_WRONG_MODALITY', 'audio']);
  assert.equal(image.message, 'modality.wav: the content is WAV (audio) but the model reads images (model.modality: image)');
  const audio = await checkFile(png, options({ modality: 'audio' }));
  assert.deepEqual([audio.ok, audio.code], [false, 'BONSAI_INGEST_WRONG_MODALITY']);
  assert.match(audio.message, /the content is PNG \(image\) but the model reads recordings \(model\.modality: audio\)/);
  // Its own modality, or none given: judged by content.
  assert.equal((await checkFile(wav, options({ modality: 'audio' }))).ok, true);
  assert.equal((await checkFile(png, options({ modality: 'image' }))).ok, true);
  assert.equal((await checkFile(wav, options())).ok, true);
});

test('a wrong extension is accepted and noted in the message', async () => {
  const entry = corpus.find((e) => e.name === 'jpeg-named-png')!;
  const verdict = await checkFile(entry.path, options());
  assert.equal(verdict.ok, true);
  assert.match(verdict.message, /note: content is JPEG although the name ends in \.png/);
  const html = corpus.find((e) => e.name === 'html-as-png')!;
  const rejected = await checkFile(html.path, options());
  assert.match(rejected.message, /HTML document although the name ends in \.png/);
});

test('label policy: new classes are accepted or rejected with the known set in the message', async () => {
  const inbox = join(dir, 'inbox-policy');
  await mkdir(join(inbox, 'cat'), { recursive: true });
  const file = join(inbox, 'cat', 'x.png');
  await writeFile(file, await syntheticDigit());
  const known = new Set(['0', '1']);
  const rejected = await checkFile(file, options({ inboxRoot: inbox, knownLabels: known, labelPolicy: 'reject' }));
  assert.equal(rejected.code, 'BONSAI_INGEST_LABEL_UNKNOWN');
  assert.match(rejected.message, /'cat' is not one of the 2 known classes \(0, 1\)/);
  const grown = await inspectFile(file, options({ inboxRoot: inbox, knownLabels: known, labelPolicy: 'new-class' }));
  assert.equal(grown.verdict.ok, true);
  assert.match(grown.verdict.message, /label 'cat' \(folder, new class\)/);
  assert.deepEqual(grown.label, { kind: 'class', value: 'cat', source: 'folder', isNew: true });
  assert.equal(grown.sample?.features.length, 28 * 28);
  assert.ok(grown.bytes !== undefined && grown.bytes.length > 0);
  // Outside the inbox root no label is needed.
  const outside = await checkFile(file, options({ inboxRoot: join(dir, 'elsewhere') }));
  assert.equal(outside.ok, true);
});

test('a bad spec or limit becomes a verdict, never an exception', async () => {
  const png = join(dir, 'spec.png');
  await writeFile(png, await syntheticDigit());
  const badSpec = await checkFile(png, options({ imageSpec: spec({ width: -1 }) }));
  assert.equal(badSpec.code, 'BONSAI_INGEST_IMAGE_SPEC_INVALID');
  const tight = await checkFile(png, options({ limits: { ...TEST_LIMITS, maxFileBytes: 10 } }));
  assert.equal(tight.code, 'BONSAI_INGEST_FILE_TOO_LARGE');
  assert.match(tight.message, /more than the limit of 10/);
  const fewPixels = await checkFile(png, options({ limits: { ...TEST_LIMITS, maxPixels: 100 } }));
  assert.equal(fewPixels.code, 'BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS');
  assert.match(fewPixels.message, /120x90 = 10800 pixels exceeds the limit of 100/);
});

test('formatVerdict prints one line per verdict and escapes hostile names', async () => {
  const entry = corpus.find((e) => e.name === 'newline-in-name')!;
  const verdict = await checkFile(entry.path, options());
  const line = formatVerdict(verdict);
  assert.ok(!line.includes('\n'));
  assert.match(line, /^FAIL .*bad\\u\{A\}name\.png.* BONSAI_INGEST_FILE_NAME_INVALID/);
});

test('a name that is not UTF-8 is named as such, not as a missing file', async () => {
  const raw = Buffer.concat([Buffer.from(join(dir, 'bad')), Buffer.from([0xff]), Buffer.from('.png')]);
  await writeFile(raw, await syntheticDigit());
  const verdict = await checkFile(new TextDecoder().decode(raw), options());
  assert.equal(verdict.ok, false);
  assert.equal(verdict.code, 'BONSAI_INGEST_FILE_NAME_INVALID');
  assert.match(verdict.message, /not valid UTF-8/);
  const missing = await checkFile(join(dir, 'really-missing.png'), options());
  assert.equal(missing.code, 'BONSAI_INGEST_FILE_NOT_FOUND');
});
