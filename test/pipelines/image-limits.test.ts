import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import { processImage, sharpError } from '../../pipelines/image/index.ts';
import { grayPng, spec, TEST_LIMITS } from './corpus/images.ts';
import { pngBomb } from './corpus/hostile.ts';
import { wavBytes } from './corpus/wav.ts';

const rejectsWith = (code: string, details: Record<string, unknown> = {}) => (e: unknown): boolean => {
  assert.ok(e instanceof BonsaiError, `not a BonsaiError: ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const [k, v] of Object.entries(details)) assert.equal(e.details[k], v, `details.${k}`);
  return true;
};

test('file size is checked before decoding; empty input is rejected', async () => {
  const png = await grayPng(16, 16, (x) => x * 16);
  await assert.rejects(processImage(png, spec(), { ...TEST_LIMITS, maxFileBytes: png.length - 1 }), rejectsWith('BONSAI_INGEST_IMAGE_FILE_TOO_LARGE', { bytes: png.length, maxFileBytes: png.length - 1 }));
  await assert.doesNotReject(processImage(png, spec(), { ...TEST_LIMITS, maxFileBytes: png.length }));
  await assert.rejects(processImage(new Uint8Array(0), spec(), TEST_LIMITS), rejectsWith('BONSAI_INGEST_IMAGE_EMPTY'));
});

test('pixel limit from the header (png, jpeg) and from sharp (tiff), before decoding', async () => {
  const png = await grayPng(40, 25, () => 0);
  await assert.rejects(processImage(png, spec(), { ...TEST_LIMITS, maxPixels: 999 }), rejectsWith('BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS', { width: 40, height: 25, maxPixels: 999 }));
  await assert.doesNotReject(processImage(png, spec(), { ...TEST_LIMITS, maxPixels: 1000 }));
  const jpeg = await sharp(png).jpeg().toBuffer();
  await assert.rejects(processImage(jpeg, spec(), { ...TEST_LIMITS, maxPixels: 999 }), rejectsWith('BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS', { width: 40, height: 25 }));
  // TIFF and AVIF: the size from sharp's header read, with the same message as the others.
  const tiff = await sharp(png).tiff().toBuffer();
  await assert.rejects(processImage(tiff, spec(), { ...TEST_LIMITS, maxPixels: 999 }), (e: unknown) => rejectsWith('BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS', { format: 'tiff', width: 40, height: 25, maxPixels: 999 })(e) && (e as Error).message === 'tiff image of 40x25 = 1000 pixels exceeds the limit of 999');
  await assert.doesNotReject(processImage(tiff, spec(), { ...TEST_LIMITS, maxPixels: 1000 }));
  const avif = await sharp(await grayPng(40, 25, (x) => x * 6)).toColourspace('srgb').avif().toBuffer().catch(() => null);
  if (avif !== null) {
    await assert.rejects(processImage(avif, spec(), { ...TEST_LIMITS, maxPixels: 999 }), rejectsWith('BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS', { format: 'avif', width: 40, height: 25 }));
  }
});

test('a decompression bomb is refused in microseconds, not decoded', async () => {
  const bomb = pngBomb(20000);
  assert.ok(bomb.length < 100_000, `bomb is ${bomb.length} bytes`);
  const started = performance.now();
  await assert.rejects(processImage(bomb, spec(), TEST_LIMITS), rejectsWith('BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS', { width: 20000, height: 20000 }));
  assert.ok(performance.now() - started < 100, 'rejected from the header');
});

test('decoding past decodeTimeoutMs rejects with BONSAI_INGEST_IMAGE_TIMEOUT, and the pipeline keeps working', async () => {
  const side = 1500;
  const noisy = await sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  const started = performance.now();
  await assert.rejects(processImage(noisy, spec(), { ...TEST_LIMITS, decodeTimeoutMs: 1 }), rejectsWith('BONSAI_INGEST_IMAGE_TIMEOUT', { decodeTimeoutMs: 1 }));
  assert.ok(performance.now() - started < 1000);
  const s = await processImage(noisy, spec(), TEST_LIMITS);
  assert.equal(s.features.length, 28 * 28);
});

test('non-images are refused with the format codes', async () => {
  await assert.rejects(processImage(Buffer.from('<html></html>'), spec(), TEST_LIMITS), rejectsWith('BONSAI_INGEST_FORMAT_UNKNOWN', { what: 'an HTML document' }));
  await assert.rejects(processImage(wavBytes(), spec(), TEST_LIMITS), rejectsWith('BONSAI_INGEST_FORMAT_UNSUPPORTED', { format: 'wav' }));
});

test('sharp errors map onto codes by their message', () => {
  const limits = { maxPixels: 10, decodeTimeoutMs: 5 };
  assert.equal(sharpError(new Error('Input image exceeds pixel limit'), 'png', limits).code, 'BONSAI_INGEST_IMAGE_TOO_MANY_PIXELS');
  assert.equal(sharpError(new Error('timeout: 12% complete'), 'png', limits).code, 'BONSAI_INGEST_IMAGE_TIMEOUT');
  // libvips' repeated lines are said once, on one line.
  const repeated = 'Input buffer has corrupt header: VipsJpeg: premature end of JPEG image\nVipsJpeg: JPEG datastream contains no image\nVipsJpeg: premature end of JPEG image\nVipsJpeg: JPEG datastream contains no image\n';
  assert.equal(sharpError(new Error(repeated), 'jpeg', limits).message, 'corrupt jpeg image: Input buffer has corrupt header: VipsJpeg: premature end of JPEG image; VipsJpeg: JPEG datastream contains no image');
  assert.equal(sharpError(new Error('Input buffer contains unsupported image format'), 'avif', limits).code, 'BONSAI_INGEST_IMAGE_UNSUPPORTED');
  const corrupt = sharpError(new Error('Input buffer has corrupt header:'), 'png', limits);
  assert.equal(corrupt.code, 'BONSAI_INGEST_IMAGE_CORRUPT');
  assert.equal(corrupt.message, 'corrupt png image: Input buffer has corrupt header');
  const own = new BonsaiError('BONSAI_INGEST_IMAGE_BLANK', 'x');
  assert.equal(sharpError(own, 'png', limits), own);
});
