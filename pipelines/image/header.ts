/**
 * Image dimensions read from the header bytes alone, so that a decompression
 * bomb or an absurd header is rejected before any decoder allocates for it.
 * sharp's `limitInputPixels` checks the same thing inside libvips; this check
 * is cheaper and gives one stable error for every format it knows.
 *
 * Layouts: PNG IHDR (ISO/IEC 15948 §11.2.2), GIF logical screen descriptor
 * (GIF89a §18), JPEG SOFn frame header (ITU-T T.81 §B.2.2), WebP VP8/VP8L/VP8X
 * (RFC 9649 §2.5-2.7). Other formats return `undefined` and rely on sharp.
 */
import type { ImageFormat } from '../sniff.ts';

/** Width and height in pixels, as the header declares them. */
export interface ImageDimensions {
  width: number;
  height: number;
}

function u16be(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u24le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
}
function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) >>> 0) + (b[o + 1] << 16) + (b[o + 2] << 8) + b[o + 3];
}

function pngDimensions(b: Uint8Array): ImageDimensions | undefined {
  // signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4)
  if (b.length < 24 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function gifDimensions(b: Uint8Array): ImageDimensions | undefined {
  if (b.length < 10) return undefined;
  return { width: u16le(b, 6), height: u16le(b, 8) };
}

/** SOFn markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegDimensions(b: Uint8Array): ImageDimensions | undefined {
  let o = 2;
  for (let segments = 0; segments < 4096 && o + 4 <= b.length; segments++) {
    if (b[o] !== 0xff) return undefined;
    let marker = b[o + 1];
    while (marker === 0xff && o + 2 < b.length) marker = b[++o + 1];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      o += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined;
    if (isStartOfFrame(marker)) {
      if (o + 9 > b.length) return undefined;
      return { height: u16be(b, o + 5), width: u16be(b, o + 7) };
    }
    o += 2 + u16be(b, o + 2);
  }
  return undefined;
}

function webpDimensions(b: Uint8Array): ImageDimensions | undefined {
  if (b.length < 30) return undefined;
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L' && b[20] === 0x2f) {
    const bits = (b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24)) >>> 0;
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ' && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return undefined;
}

/** The dimensions declared by the header of `bytes` in `format`, or `undefined` where this reader does not know the format or the header is cut short. */
export function readImageDimensions(bytes: Uint8Array, format: ImageFormat): ImageDimensions | undefined {
  switch (format) {
    case 'png': return pngDimensions(bytes);
    case 'gif': return gifDimensions(bytes);
    case 'jpeg': return jpegDimensions(bytes);
    case 'webp': return webpDimensions(bytes);
    default: return undefined;
  }
}
