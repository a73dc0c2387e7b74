import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { extendsDeadline, QUEUE_WAIT_FACTOR } from '../../pipelines/image/decode.ts';
import { bytesToRange, decodeRaw, decodeSimplePng, FAST_PNG_MAX_PIXELS, mnistCentre, neutralToGray, processImage, unitToRange } from '../../pipelines/image/index.ts';
import { pngChunk } from './corpus/hostile.ts';
import { spec, TEST_LIMITS } from './corpus/images.ts';

/** A seeded generator (mulberry32) so that failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Filters one row with PNG filter `type` (ISO/IEC 15948 §9.2), the encoder's side. */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array | undefined, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length);
  for (let x = 0; x < row.length; x++) {
    const a = x >= bpp ? row[x - bpp] : 0;
    const b = prev ? prev[x] : 0;
    const c = prev && x >= bpp ? prev[x - bpp] : 0;
    const p = a + b - c;
    const predictor = [0, a, b, (a + b) >> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][type];
    out[x] = (row[x] - predictor) & 0xff;
  }
  return out;
}

const COLOUR_TYPE: Record<number, number> = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** An 8-bit PNG (gray, gray+alpha, RGB or RGBA by `channels`) with the given row filters and extra chunks before IDAT. */
function encodePng(raw: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, filters: (y: number) => number, extra: Buffer[] = [], idatSplit = 1): Buffer {
  const stride = width * channels;
  const rows: Uint8Array[] = [];
  for (let y = 0; y < height; y++) {
    const row = raw.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? raw.subarray((y - 1) * stride, y * stride) : undefined;
    const type = filters(y);
    rows.push(Uint8Array.of(type), filterRow(type, row, prev, channels));
  }
  const z = deflateSync(Buffer.concat(rows));
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = COLOUR_TYPE[channels];
  const idats: Buffer[] = [];
  const part = Math.ceil(z.length / idatSplit);
  for (let o = 0; o < z.length; o += part) idats.push(pngChunk('IDAT', z.subarray(o, o + part)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), ...extra, ...idats, pngChunk('IEND', new Uint8Array(0))]);
}

function randomImage(random: () => number, width: number, height: number, channels: number): Uint8Array {
  return Uint8Array.from({ length: width * height * channels }, () => Math.floor(random() * 256));
}

test('decodes gray and RGB PNGs with every filter type exactly as sharp does', async () => {
  const random = rng(7);
  for (const channels of [1, 3] as const) {
    for (let trial = 0; trial < 4; trial++) {
      const width = 5 + Math.floor(random() * 30);
      const height = 5 + Math.floor(random() * 30);
      const raw = randomImage(random, width, height, channels);
      const png = encodePng(raw, width, height, channels, (y) => (y + trial) % 5, [pngChunk('tEXt', Buffer.from('Comment\0test'))], 1 + (trial % 3));
      const fast = decodeSimplePng(png);
      assert.ok(fast !== undefined, `fast path taken for ${width}x${height}x${channels}`);
      assert.deepEqual([fast.width, fast.height, fast.channels], [width, height, channels]);
      assert.ok(fast.data.equals(Buffer.from(raw)), 'fast decode equals the raw pixels');
      const reference = await decodeRaw(png, { channels, format: 'png' }, TEST_LIMITS);
      assert.ok(reference.data.equals(fast.data), 'sharp agrees');
    }
  }
});

test('opaque alpha is dropped, and neutral RGB becomes gray, exactly as sharp flattens and converts', async () => {
  const random = rng(5);
  for (const channels of [2, 4] as const) {
    const width = 13;
    const height = 9;
    const raw = randomImage(random, width, height, channels);
    for (let i = channels - 1; i < raw.length; i += channels) raw[i] = 255;
    const png = encodePng(raw, width, height, channels, (y) => y % 5);
    const fast = decodeSimplePng(png);
    assert.ok(fast !== undefined && fast.channels === channels - 1, `opaque ${channels}-channel PNG takes the fast path`);
    const reference = await decodeRaw(png, { channels: channels === 2 ? 1 : 3, format: 'png' }, TEST_LIMITS);
    assert.ok(reference.data.equals(fast.data), `${channels} channels: sharp agrees`);
    raw[channels - 1] = 254;
    assert.equal(decodeSimplePng(encodePng(raw, width, height, channels, () => 0)), undefined, 'one translucent pixel: left to sharp');
  }
  // Every neutral value, as RGB and RGBA: the gray libvips computes is the value itself.
  const neutral = new Uint8Array(256 * 3);
  for (let v = 0; v < 256; v++) neutral.fill(v, 3 * v, 3 * v + 3);
  const png = encodePng(neutral, 16, 16, 3, (y) => y % 5);
  const gray = neutralToGray(decodeSimplePng(png)!);
  assert.ok(gray !== undefined && gray.channels === 1);
  assert.ok((await decodeRaw(png, { channels: 1, format: 'png' }, TEST_LIMITS)).data.equals(gray.data));
  assert.equal(neutralToGray({ data: Buffer.from([1, 1, 2]), width: 1, height: 1, channels: 3 }), undefined);
});

test('processImage gives the same features with and without the fast path', async () => {
  const random = rng(11);
  const digit = new Uint8Array(28 * 28);
  for (let y = 5; y < 22; y++) for (let x = 9; x < 15 + (y % 3); x++) digit[y * 28 + x] = 150 + Math.floor(random() * 100);
  const png = encodePng(digit, 28, 28, 1, (y) => y % 5);
  assert.ok(decodeSimplePng(png) !== undefined);
  const viaSharp = await decodeRaw(png, { channels: 1, format: 'png', resize: { maxSide: 1024 } }, TEST_LIMITS);
  const mnist = await processImage(png, spec({ resize: 'mnist', channels: 3 }), TEST_LIMITS);
  assert.deepEqual([...mnist.features], [...unitToRange(mnistCentre(viaSharp.data, 28, 28).pixels, [0, 1], 3)]);
  for (const resize of ['fill', 'fit'] as const) {
    const gray = await processImage(png, spec({ resize, range: [-1, 1] }), TEST_LIMITS);
    assert.deepEqual([...gray.features], [...bytesToRange(viaSharp.data, [-1, 1])], resize);
    const rgb = await processImage(png, spec({ resize, channels: 3 }), TEST_LIMITS);
    const sharpRgb = await decodeRaw(png, { channels: 3, format: 'png', resize: { width: 28, height: 28, fit: 'cover' } }, TEST_LIMITS);
    assert.deepEqual([...rgb.features], [...bytesToRange(sharpRgb.data, [0, 1])], `${resize} gray to rgb`);
  }
  // The same digit as neutral RGBA (a browser canvas export) and as coloured RGB (left to sharp).
  const rgba = new Uint8Array(28 * 28 * 4);
  const tinted = new Uint8Array(28 * 28 * 3);
  for (let i = 0; i < 28 * 28; i++) {
    rgba.fill(digit[i], 4 * i, 4 * i + 3);
    rgba[4 * i + 3] = 255;
    tinted.set([digit[i], Math.floor(digit[i] / 2), 0], 3 * i);
  }
  const canvas = encodePng(rgba, 28, 28, 4, (y) => y % 5);
  assert.ok(decodeSimplePng(canvas) !== undefined);
  assert.deepEqual([...(await processImage(canvas, spec({ resize: 'mnist' }), TEST_LIMITS)).features], [...mnist.features].filter((_, i) => i % 3 === 0));
  const coloured = encodePng(tinted, 28, 28, 3, () => 1);
  const viaSharpGray = await decodeRaw(coloured, { channels: 1, format: 'png', resize: { maxSide: 1024 } }, TEST_LIMITS);
  assert.deepEqual([...(await processImage(coloured, spec({ resize: 'mnist' }), TEST_LIMITS)).features], [...mnistCentre(viaSharpGray.data, 28, 28).pixels]);
  assert.deepEqual([...(await processImage(coloured, spec(), TEST_LIMITS)).features], [...bytesToRange(viaSharpGray.data, [0, 1])]);
});

test('anything unusual is left to sharp', async () => {
  const raw = randomImage(rng(3), 8, 8, 1);
  const plain = encodePng(raw, 8, 8, 1, () => 0);
  assert.ok(decodeSimplePng(plain) !== undefined);
  const cases: [string, Buffer][] = [
    ['gamma chunk', encodePng(raw, 8, 8, 1, () => 0, [pngChunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))])],
    ['ICC profile', encodePng(raw, 8, 8, 1, () => 0, [pngChunk('iCCP', Buffer.from('x\0\0'))])],
    ['transparency', encodePng(raw, 8, 8, 1, () => 0, [pngChunk('tRNS', Buffer.from([0, 0]))])],
    ['EXIF (orientation)', encodePng(raw, 8, 8, 1, () => 0, [pngChunk('eXIf', Buffer.from('MM\0*'))])],
    ['unknown filter type', encodePng(raw, 8, 8, 1, (y) => (y === 3 ? 5 : 0))],
    ['trailing bytes', Buffer.concat([plain, Buffer.from('junk')])],
    ['truncated', plain.subarray(0, plain.length - 6)],
    ['interlaced', await sharp(Buffer.from(raw), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png({ progressive: true }).toBuffer()],
    ['palette', await sharp(Buffer.from(raw), { raw: { width: 8, height: 8, channels: 1 } }).png({ palette: true }).toBuffer()],
    ['16-bit', await sharp(new Uint16Array(64), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('grey16').png().toBuffer()],
    ['transparent gray', await sharp(Buffer.alloc(128), { raw: { width: 8, height: 8, channels: 2 } }).png().toBuffer()],
    ['too many pixels', encodePng(new Uint8Array(FAST_PNG_MAX_PIXELS + 257), 257, 256, 1, () => 0)],
  ];
  const badCrc = Buffer.from(plain);
  badCrc[33 + 8] ^= 1; // first byte of the IDAT data
  cases.push(['bad CRC', badCrc]);
  // IHDR says 8x8, the image data holds 9x8 (and, the other way round, 8x8 data under a 9x8 header).
  const reheader = (png: Buffer, width: number): Buffer => {
    const ihdr = Buffer.from(png.subarray(16, 29));
    ihdr.writeUInt32BE(width, 0);
    return Buffer.concat([png.subarray(0, 8), pngChunk('IHDR', ihdr), png.subarray(33)]);
  };
  assert.ok(decodeSimplePng(reheader(plain, 8)) !== undefined, 'reheader keeps a valid PNG valid');
  cases.push(['more data than the header declares', reheader(encodePng(new Uint8Array(9 * 8), 9, 8, 1, () => 0), 8)]);
  cases.push(['less data than the header declares', reheader(plain, 9)]);
  for (const [name, png] of cases) assert.equal(decodeSimplePng(png), undefined, name);
});

test('a decode deadline is extended only while other decodes are queued, and only up to QUEUE_WAIT_FACTOR timeouts', () => {
  assert.equal(extendsDeadline(10_000, 0, 10_000), false, 'nothing queued: this decode ran out of time');
  assert.equal(extendsDeadline(10_000, 3, 10_000), true, 'others queued: it may still be waiting for a thread');
  assert.equal(extendsDeadline(10_000 * (QUEUE_WAIT_FACTOR - 1), 3, 10_000), true);
  assert.equal(extendsDeadline(10_000 * QUEUE_WAIT_FACTOR, 3, 10_000), false, 'an overloaded decoder is not waited on forever');
});
