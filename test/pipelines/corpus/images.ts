/**
 * Small synthetic images for the image pipeline tests, generated with sharp
 * (nothing binary is committed).
 */
import sharp, { type Sharp } from 'sharp';
import type { ImageSpec, IngestLimits } from '../../../pipelines/types.ts';

/** Limits as in the default config (16 MiB, 4096 x 4096 pixels, 60 s, 10 s). */
export const TEST_LIMITS: IngestLimits = { maxFileBytes: 16 * 1024 * 1024, maxPixels: 4096 * 4096, maxAudioSeconds: 60, decodeTimeoutMs: 10_000 };

/** A spec with the given overrides (default: 28 x 28 gray, fill, [0, 1]). */
export function spec(overrides: Partial<ImageSpec> = {}): ImageSpec {
  return { height: 28, width: 28, channels: 1, resize: 'fill', range: [0, 1], ...overrides };
}

/** An 8-bit raw image (`channels` interleaved) from a pixel function, encoded by `encode`. */
export async function rawImage(width: number, height: number, channels: 1 | 2 | 3 | 4, pixel: (x: number, y: number) => number[]): Promise<Sharp> {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = pixel(x, y);
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = p[c];
    }
  }
  return sharp(data, { raw: { width, height, channels } });
}

/** A gray PNG from a pixel function returning 0-255. */
export async function grayPng(width: number, height: number, value: (x: number, y: number) => number): Promise<Buffer> {
  return (await rawImage(width, height, 1, (x, y) => [value(x, y)])).png().toBuffer();
}

/**
 * A handwritten-looking "7" rendered from SVG: dark strokes on a light
 * background (or the reverse), placed off-centre in a `width` x `height` frame.
 */
export async function syntheticDigit(width = 120, height = 90, lightBackground = true): Promise<Buffer> {
  const ink = lightBackground ? '#101010' : '#f0f0f0';
  const paper = lightBackground ? '#f4f4f4' : '#080808';
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 120 90" preserveAspectRatio="none">
    <rect width="120" height="90" fill="${paper}"/>
    <path d="M70 12 L104 12 L84 74" stroke="${ink}" stroke-width="7" fill="none" stroke-linecap="round"/>
    <path d="M80 42 L98 42" stroke="${ink}" stroke-width="5" fill="none"/>
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
