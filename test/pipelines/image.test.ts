import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import { imageFormatSupport, processImage, processImageDetailed, readImageDimensions } from '../../pipelines/image/index.ts';
import { sniff, type ImageFormat } from '../../pipelines/sniff.ts';
import { grayPng, rawImage, spec, TEST_LIMITS } from './corpus/images.ts';

/** Value at (y, x, c) of a [h, w, c] sample. */
function at(features: Float32Array, width: number, channels: number, y: number, x: number, c = 0): number {
  return features[(y * width + x) * channels + c];
}

/** Top half white, bottom half black, 40 x 30, encoded as `format`. */
async function halfAndHalf(format: ImageFormat): Promise<Buffer> {
  const img = await rawImage(40, 30, 3, (_x, y) => (y < 15 ? [255, 255, 255] : [0, 0, 0]));
  switch (format) {
    case 'png': return img.png().toBuffer();
    case 'jpeg': return img.jpeg({ quality: 95 }).toBuffer();
    case 'webp': return img.webp({ lossless: true }).toBuffer();
    case 'gif': return img.gif().toBuffer();
    case 'tiff': return img.tiff().toBuffer();
    case 'avif': return img.avif({ quality: 90 }).toBuffer();
  }
}

const support = imageFormatSupport();

for (const format of ['png', 'jpeg', 'webp', 'gif', 'tiff', 'avif'] as const) {
  test(`decodes ${format} (top white, bottom black) with the fill policy`, { skip: support[format] ? false : `this sharp build cannot decode ${format}` }, async () => {
    const bytes = await halfAndHalf(format);
    assert.deepEqual(sniff(bytes), { kind: 'image', modality: 'image', format });
    const { sample, format: seen } = await processImageDetailed(bytes, spec({ height: 12, width: 16 }), TEST_LIMITS);
    assert.equal(seen, format);
    assert.deepEqual(sample.shape, [12, 16, 1]);
    assert.equal(sample.features.length, 12 * 16);
    const lossy = format === 'jpeg' || format === 'avif';
    const tol = lossy ? 0.08 : 0.01;
    // Rows well inside each half (resampling blurs only the rows next to the edge).
    for (const x of [0, 7, 15]) {
      assert.ok(Math.abs(at(sample.features, 16, 1, 1, x) - 1) <= tol, `${format} top row ${at(sample.features, 16, 1, 1, x)}`);
      assert.ok(Math.abs(at(sample.features, 16, 1, 10, x)) <= tol, `${format} bottom row ${at(sample.features, 16, 1, 10, x)}`);
    }
  });
}

test('header dimensions agree with sharp for png, gif, jpeg and webp (lossy and lossless)', async () => {
  const img = () => rawImage(37, 23, 3, (x, y) => [x * 6, y * 10, 100]);
  const cases: [ImageFormat, Buffer][] = [
    ['png', await (await img()).png().toBuffer()],
    ['gif', await (await img()).gif().toBuffer()],
    ['jpeg', await (await img()).jpeg().toBuffer()],
    ['jpeg', await (await img()).jpeg({ progressive: true }).toBuffer()],
    ['webp', await (await img()).webp({ lossless: true }).toBuffer()],
    ['webp', await (await img()).webp({ quality: 50 }).toBuffer()],
    ['webp', await (await rawImage(37, 23, 4, () => [1, 2, 3, 128])).webp({ quality: 50 }).toBuffer()],
  ];
  for (const [format, bytes] of cases) assert.deepEqual(readImageDimensions(bytes, format), { width: 37, height: 23 }, format);
});

test('fit letterboxes with black and keeps the aspect ratio', async () => {
  const bytes = await grayPng(40, 20, () => 255);
  const s = await processImage(bytes, spec({ height: 20, width: 20, resize: 'fit' }), TEST_LIMITS);
  // 40x20 -> 20x10 centred vertically: rows 5..14 white, the rest black.
  for (let y = 0; y < 20; y++) {
    const expected = y >= 5 && y < 15 ? 1 : 0;
    for (const x of [0, 10, 19]) assert.ok(Math.abs(at(s.features, 20, 1, y, x) - expected) < 0.01, `row ${y} col ${x}: ${at(s.features, 20, 1, y, x)}`);
  }
});

test('fill covers and crops the centre', async () => {
  // 60x20: columns 0-19 black, 20-39 white, 40-59 black; fill 10x10 keeps the white centre.
  const bytes = await grayPng(60, 20, (x) => (x >= 20 && x < 40 ? 255 : 0));
  const s = await processImage(bytes, spec({ height: 10, width: 10, resize: 'fill' }), TEST_LIMITS);
  for (let y = 0; y < 10; y++) for (let x = 1; x < 9; x++) assert.ok(at(s.features, 10, 1, y, x) > 0.95, `(${y}, ${x}) ${at(s.features, 10, 1, y, x)}`);
});

test('RGB keeps colour; grayscale gives one equal channel', async () => {
  const red = await (await rawImage(8, 8, 3, () => [255, 0, 0])).png().toBuffer();
  const rgb = await processImage(red, spec({ height: 4, width: 4, channels: 3 }), TEST_LIMITS);
  assert.deepEqual(rgb.shape, [4, 4, 3]);
  assert.deepEqual([...rgb.features.subarray(0, 3)], [1, 0, 0]);
  const gray = await processImage(red, spec({ height: 4, width: 4, channels: 1 }), TEST_LIMITS);
  assert.deepEqual(gray.shape, [4, 4, 1]);
  assert.ok(gray.features[0] > 0.1 && gray.features[0] < 0.9, `red in gray: ${gray.features[0]}`);
  assert.ok(gray.features.every((v) => v === gray.features[0]));
  // A gray image asked for as RGB repeats the value in the three channels.
  const mid = await processImage(await grayPng(4, 4, () => 51), spec({ height: 4, width: 4, channels: 3 }), TEST_LIMITS);
  assert.deepEqual([...mid.features.subarray(0, 3)], [0.2, 0.2, 0.2].map((v) => Math.fround(v)));
});

test('alpha is flattened onto white', async () => {
  const transparent = await (await rawImage(4, 4, 4, () => [0, 0, 0, 0])).png().toBuffer();
  const t = await processImage(transparent, spec({ height: 4, width: 4 }), TEST_LIMITS);
  assert.ok(t.features.every((v) => v === 1), `transparent -> white: ${t.features[0]}`);
  const half = await (await rawImage(4, 4, 2, () => [0, 128])).png().toBuffer();
  const h = await processImage(half, spec({ height: 4, width: 4, channels: 3 }), TEST_LIMITS);
  assert.ok(Math.abs(h.features[0] - 127 / 255) < 0.01, `half-transparent black over white: ${h.features[0]}`);
});

test('16-bit images are reduced to 8 bits by value, not truncated', async () => {
  const g16 = await sharp(new Uint16Array([0, 32896, 65535, 65535]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  assert.equal(g16[24], 16, 'the test image is a 16-bit PNG');
  const s = await processImage(g16, spec({ height: 2, width: 2 }), TEST_LIMITS);
  assert.deepEqual([...s.features].map((v) => Math.round(v * 255)), [0, 128, 255, 255]);
  const rgba16 = await sharp(new Uint16Array([65535, 0, 0, 65535, 0, 0, 0, 0]), { raw: { width: 2, height: 1, channels: 4 } }).toColourspace('rgb16').png().toBuffer();
  const c = await processImage(rgba16, spec({ height: 1, width: 2, channels: 3 }), TEST_LIMITS);
  assert.deepEqual([...c.features], [1, 0, 0, 1, 1, 1]);
});

test('only the first frame of an animated GIF is read', { skip: support.gif ? false : 'no gif' }, async () => {
  const white = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const black = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000000' } }).png().toBuffer();
  const gif = await sharp([white, black], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const s = await processImage(gif, spec({ height: 8, width: 8 }), TEST_LIMITS);
  assert.deepEqual(s.shape, [8, 8, 1]);
  assert.ok(s.features.every((v) => v === 1));
});

test('EXIF orientation is applied', async () => {
  // Stored 20x10, left half black; orientation 6 (rotate 90 degrees clockwise) shows it 10x20 with the black half on top.
  const stored = await (await rawImage(20, 10, 1, (x) => [x < 10 ? 0 : 255])).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const s = await processImage(stored, spec({ height: 20, width: 10 }), TEST_LIMITS);
  assert.ok(at(s.features, 10, 1, 2, 5) < 0.1 && at(s.features, 10, 1, 17, 5) > 0.9, `top ${at(s.features, 10, 1, 2, 5)} bottom ${at(s.features, 10, 1, 17, 5)}`);
});

test('values are scaled to spec.range', async () => {
  const bytes = await grayPng(2, 1, (x) => (x === 0 ? 0 : 255));
  const s = await processImage(bytes, spec({ height: 1, width: 2, range: [-1, 1] }), TEST_LIMITS);
  assert.deepEqual([...s.features], [-1, 1]);
  const mid = await processImage(await grayPng(1, 1, () => 51), spec({ height: 1, width: 1, range: [0, 255] }), TEST_LIMITS);
  assert.ok(Math.abs(mid.features[0] - 51) < 1e-4);
});

test('a wrong extension does not matter to processImage: the bytes decide', async () => {
  const jpeg = await (await rawImage(8, 8, 3, () => [10, 20, 30])).jpeg().toBuffer();
  const s = await processImageDetailed(jpeg, spec({ height: 8, width: 8 }), TEST_LIMITS);
  assert.equal(s.format, 'jpeg');
});

test('invalid specs are rejected with the field and value', async () => {
  const bytes = await grayPng(4, 4, () => 0);
  const cases: [Partial<Parameters<typeof spec>[0]>, string][] = [
    [{ height: 0 }, 'height'], [{ width: 1.5 }, 'width'], [{ channels: 2 as 1 }, 'channels'],
    [{ resize: 'stretch' as 'fit' }, 'resize'], [{ range: [1, 1] }, 'range'], [{ range: [0, Number.NaN] }, 'range'],
  ];
  for (const [overrides, field] of cases) {
    await assert.rejects(processImage(bytes, spec(overrides), TEST_LIMITS), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_IMAGE_SPEC_INVALID' && e.details.field === field);
  }
});
