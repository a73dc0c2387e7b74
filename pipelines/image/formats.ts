/**
 * Which of the sniffed raster formats this build of sharp (libvips) can decode
 * from a buffer. Prebuilt sharp binaries decode all six; a custom libvips may
 * lack some (AVIF needs libheif with an AV1 decoder).
 */
import sharp from 'sharp';
import type { ImageFormat } from '../sniff.ts';

/** sharp's name for the loader of each format. */
const LOADER: Readonly<Record<ImageFormat, string>> = { png: 'png', jpeg: 'jpeg', webp: 'webp', gif: 'gif', tiff: 'tiff', avif: 'heif' };

let cached: Readonly<Record<ImageFormat, boolean>> | undefined;

/** For each format, whether this sharp build decodes it from a buffer. */
export function imageFormatSupport(): Readonly<Record<ImageFormat, boolean>> {
  if (cached !== undefined) return cached;
  const formats = sharp.format as unknown as Record<string, { input?: { buffer?: boolean; fileSuffix?: string[] } } | undefined>;
  const support = {} as Record<ImageFormat, boolean>;
  for (const [format, loader] of Object.entries(LOADER) as [ImageFormat, string][]) {
    const input = formats[loader]?.input;
    support[format] = input?.buffer === true && (format !== 'avif' || (input.fileSuffix ?? []).includes('.avif'));
  }
  cached = Object.freeze(support);
  return cached;
}
