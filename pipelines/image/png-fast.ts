/**
 * A fast path for the commonest training input, small plain PNGs (MNIST-style
 * 28x28 gray): decoded here with zlib instead of a sharp pipeline, whose
 * per-call setup costs far more than the decoding of a few hundred pixels.
 *
 * It is deliberately narrow and never the one to reject a file: anything
 * unusual returns `undefined` and sharp decodes the file (and gives the
 * verdict). Taken only for 8-bit gray, RGB, gray+alpha or RGBA whose alpha is
 * 255 everywhere (so that flattening changes nothing), non-interlaced, at most
 * `FAST_PNG_MAX_PIXELS`, every chunk CRC correct, no chunk that could change
 * the pixels sharp would produce (colour profiles, gamma, transparency,
 * EXIF orientation), and image data that inflates to exactly the expected
 * size. The output equals sharp's byte for byte (tested), also for
 * `neutralToGray`: libvips maps a neutral sRGB pixel (v, v, v) to gray v.
 *
 * Layout: PNG (ISO/IEC 15948) §5 chunks, §11.2.2 IHDR, §9 filtering.
 */
import { crc32, inflateSync } from 'node:zlib';
import type { RawImage } from './decode.ts';

/** Largest image (width x height) the fast path decodes. */
export const FAST_PNG_MAX_PIXELS = 256 * 256;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Ancillary chunks that do not change decoded pixels; any other chunk sends the file to sharp. */
const HARMLESS_CHUNKS = new Set(['pHYs', 'tEXt', 'zTXt', 'iTXt', 'tIME', 'bKGD']);

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Reverses the per-row filters into `out`; false on an unknown filter type.
 * One loop per filter type, the row's first pixel (no left neighbour) and the
 * first row (no row above, read as zeros) apart, so that the inner loops carry
 * no branch.
 */
function unfilter(data: Uint8Array, out: Uint8Array, width: number, height: number, bpp: number): boolean {
  const stride = width * bpp;
  const zeros = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = data[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    // The row above, or zeros for the first row.
    const up = y > 0 ? out.subarray(row - stride, row) : zeros;
    const line = out.subarray(row, row + stride);
    const raw = data.subarray(src, src + stride);
    const first = Math.min(bpp, stride);
    switch (filter) {
      case 0:
        line.set(raw);
        break;
      case 1:
        for (let x = 0; x < first; x++) line[x] = raw[x];
        for (let x = bpp; x < stride; x++) line[x] = (raw[x] + line[x - bpp]) & 0xff;
        break;
      case 2:
        for (let x = 0; x < stride; x++) line[x] = (raw[x] + up[x]) & 0xff;
        break;
      case 3:
        for (let x = 0; x < first; x++) line[x] = (raw[x] + (up[x] >> 1)) & 0xff;
        for (let x = bpp; x < stride; x++) line[x] = (raw[x] + ((line[x - bpp] + up[x]) >> 1)) & 0xff;
        break;
      case 4:
        // Paeth with no left neighbour (a = c = 0) predicts the pixel above.
        for (let x = 0; x < first; x++) line[x] = (raw[x] + up[x]) & 0xff;
        for (let x = bpp; x < stride; x++) line[x] = (raw[x] + paeth(line[x - bpp], up[x], up[x - bpp])) & 0xff;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Channels of each 8-bit PNG colour type this path takes: gray, RGB, gray+alpha, RGBA. */
const COLOUR_TYPE_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** Drops an alpha channel that is 255 everywhere; undefined when any pixel is not opaque. */
function dropOpaqueAlpha(data: Uint8Array, pixels: number, channels: 2 | 4): Buffer | undefined {
  const colour = channels - 1;
  const out = Buffer.allocUnsafe(pixels * colour);
  for (let i = 0; i < pixels; i++) {
    if (data[i * channels + colour] !== 255) return undefined;
    for (let c = 0; c < colour; c++) out[i * colour + c] = data[i * channels + c];
  }
  return out;
}

/**
 * Decodes a plain 8-bit gray or RGB PNG (or an opaque one with alpha) of at
 * most FAST_PNG_MAX_PIXELS, or returns `undefined` when the file is anything
 * else (sharp then decodes it).
 */
export function decodeSimplePng(bytes: Uint8Array): RawImage | undefined {
  if (bytes.length < 8 + 25 + 12 || !PNG_SIGNATURE.every((v, i) => bytes[i] === v)) return undefined;
  let offset = 8;
  let width = 0;
  let height = 0;
  let stored = 1;
  const idat: Uint8Array[] = [];
  let seenEnd = false;
  while (offset + 12 <= bytes.length) {
    const length = u32(bytes, offset);
    const end = offset + 12 + length;
    if (end > bytes.length) return undefined;
    const type = String.fromCharCode(bytes[offset + 4], bytes[offset + 5], bytes[offset + 6], bytes[offset + 7]);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== u32(bytes, offset + 8 + length)) return undefined;
    if (offset === 8) {
      // IHDR: width, height, bit depth, colour type, compression, filter, interlace.
      if (type !== 'IHDR' || length !== 13) return undefined;
      width = u32(body, 0);
      height = u32(body, 4);
      const channels = COLOUR_TYPE_CHANNELS[body[9]];
      if (body[8] !== 8 || channels === undefined || body[10] !== 0 || body[11] !== 0 || body[12] !== 0) return undefined;
      stored = channels;
      if (width === 0 || height === 0 || width * height > FAST_PNG_MAX_PIXELS) return undefined;
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      seenEnd = end === bytes.length;
      break;
    } else if (!HARMLESS_CHUNKS.has(type)) {
      return undefined;
    }
    offset = end;
  }
  if (!seenEnd || idat.length === 0) return undefined;
  const expected = height * (width * stored + 1);
  let inflated: Buffer;
  try {
    inflated = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch {
    return undefined;
  }
  if (inflated.length !== expected) return undefined;
  const data = Buffer.allocUnsafe(width * height * stored);
  if (!unfilter(inflated, data, width, height, stored)) return undefined;
  if (stored === 1 || stored === 3) return { data, width, height, channels: stored };
  const opaque = dropOpaqueAlpha(data, width * height, stored as 2 | 4);
  return opaque === undefined ? undefined : { data: opaque, width, height, channels: stored === 2 ? 1 : 3 };
}

/** The gray image of an RGB image whose every pixel is neutral (r = g = b), else undefined. */
export function neutralToGray(image: RawImage): RawImage | undefined {
  if (image.channels === 1) return image;
  const pixels = image.width * image.height;
  const gray = Buffer.allocUnsafe(pixels);
  const d = image.data;
  for (let i = 0; i < pixels; i++) {
    const r = d[3 * i];
    if (d[3 * i + 1] !== r || d[3 * i + 2] !== r) return undefined;
    gray[i] = r;
  }
  return { data: gray, width: image.width, height: image.height, channels: 1 };
}
