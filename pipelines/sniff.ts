/**
 * What a file really is, from its first bytes (magic numbers), never from its
 * name. The ingestion pipelines dispatch on this, and `bonsai check` reports a
 * name whose extension disagrees with the content.
 *
 * Magic numbers: PNG (ISO/IEC 15948 §5.2), JPEG (ITU-T T.81 SOI marker),
 * GIF87a/89a, RIFF (WebP, WAVE), TIFF (TIFF 6.0 §2, BigTIFF), ISO base media
 * `ftyp` brands (AVIF: AV1 Image File Format §9; HEIF: ISO/IEC 23008-12).
 */
import { BonsaiError } from '../core/errors.ts';
import type { Modality } from './types.ts';

/** Error codes for content that no pipeline accepts (documented in `docs/errors-ingest-image.md`). */
export const FormatErrorCode = {
  /** No known magic number: text, HTML, random bytes. */
  UNKNOWN: 'BONSAI_INGEST_FORMAT_UNKNOWN',
  /** A recognised format that bonsai does not ingest (HEIC, BMP, SVG, PDF, MP3, ...), or the wrong modality for the pipeline called. */
  UNSUPPORTED: 'BONSAI_INGEST_FORMAT_UNSUPPORTED',
} as const;

/** Raster formats the image pipeline decodes (with sharp). */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif';

/** The result of sniffing: a pipeline to try, a known format bonsai refuses, or nothing recognised. */
export type SniffResult =
  | { kind: 'image'; modality: 'image'; format: ImageFormat }
  /** RIFF-family containers that are not WebP go to the audio pipeline, which explains what is wrong with them. */
  | { kind: 'audio'; modality: 'audio'; format: 'wav' }
  /** A format recognised but not accepted, with the reason for the message. */
  | { kind: 'unsupported'; format: string; reason: string }
  /** Nothing recognised; `what` describes the content for the message (e.g. `an HTML document`). */
  | { kind: 'unknown'; what: string };

/** File extensions (lower case, with the dot) of each accepted format. */
export const FORMAT_EXTENSIONS: Readonly<Record<ImageFormat | 'wav', readonly string[]>> = {
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg', '.jpe', '.jfif'],
  webp: ['.webp'],
  gif: ['.gif'],
  tiff: ['.tif', '.tiff'],
  avif: ['.avif'],
  wav: ['.wav', '.wave'],
};

function ascii(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function startsWith(bytes: Uint8Array, magic: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[offset + i] !== magic[i]) return false;
  return true;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Brands of an ISO base media `ftyp` box: the major brand and the compatible brands. */
function ftypBrands(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 16 || ascii(bytes, 4, 4) !== 'ftyp') return undefined;
  const size = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
  const end = Math.min(bytes.length, size >= 16 ? size : 16, 4096);
  const brands = [ascii(bytes, 8, 4)];
  for (let o = 16; o + 4 <= end; o += 4) brands.push(ascii(bytes, o, 4));
  return brands;
}

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);

/** Describes content that matched no magic number: markup, text or binary. */
function describeUnknown(bytes: Uint8Array): string {
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 512)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body')) return 'an HTML document';
  if (head.startsWith('<?xml') || head.startsWith('<svg')) return head.includes('<svg') ? 'an SVG/XML document' : 'an XML document';
  if (head.startsWith('{') || head.startsWith('[')) return 'JSON or other text';
  let binary = 0;
  const n = Math.min(bytes.length, 512);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) binary++;
  }
  return binary === 0 ? 'text' : 'unrecognised binary data';
}

/** Sniffs the format of `bytes` from its magic number (needs at most the first 4 KiB). */
export function sniff(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, PNG_MAGIC)) return { kind: 'image', modality: 'image', format: 'png' };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'image', modality: 'image', format: 'jpeg' };
  const head4 = ascii(bytes, 0, 4);
  const head6 = ascii(bytes, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return { kind: 'image', modality: 'image', format: 'gif' };
  if (head4 === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return { kind: 'image', modality: 'image', format: 'webp' };
  if ((head4 === 'RIFF' || head4 === 'RIFX' || head4 === 'RF64') && bytes.length >= 12) return { kind: 'audio', modality: 'audio', format: 'wav' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])
    || startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) {
    return { kind: 'image', modality: 'image', format: 'tiff' };
  }
  const brands = ftypBrands(bytes);
  if (brands) {
    if (brands.includes('avif') || brands.includes('avis')) return { kind: 'image', modality: 'image', format: 'avif' };
    if (brands.some((b) => HEIC_BRANDS.has(b)) || brands[0] === 'mif1' || brands[0] === 'msf1') {
      return { kind: 'unsupported', format: 'heic', reason: 'HEIC/HEIF (HEVC-coded) images cannot be decoded by this build; convert them to PNG, JPEG or AVIF' };
    }
    return { kind: 'unsupported', format: 'iso-media', reason: `an ISO media file (brand '${brands[0]}'), not an image or a WAV recording` };
  }
  if (head4 === '%PDF') return { kind: 'unsupported', format: 'pdf', reason: 'a PDF document; export the page as PNG' };
  if (head4 === '8BPS') return { kind: 'unsupported', format: 'psd', reason: 'a Photoshop document; export it as PNG' };
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 26 && bytes[6] === 0 && bytes[7] === 0 && bytes[8] === 0 && bytes[9] === 0) {
    return { kind: 'unsupported', format: 'bmp', reason: 'a BMP image, which this build cannot decode; convert it to PNG' };
  }
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 6 && bytes[4] + bytes[5] > 0) {
    return { kind: 'unsupported', format: 'ico', reason: 'a Windows icon; convert it to PNG' };
  }
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) {
    return { kind: 'unsupported', format: 'jpeg2000', reason: 'a JPEG 2000 image, which this build cannot decode; convert it to PNG' };
  }
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) {
    return { kind: 'unsupported', format: 'jxl', reason: 'a JPEG XL image, which this build cannot decode; convert it to PNG' };
  }
  if (head4 === 'fLaC') return { kind: 'unsupported', format: 'flac', reason: 'FLAC audio; convert it to PCM WAV' };
  if (head4 === 'OggS') return { kind: 'unsupported', format: 'ogg', reason: 'Ogg audio; convert it to PCM WAV' };
  if (ascii(bytes, 0, 3) === 'ID3' || (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1] & 0xe6) === 0xe2)) {
    return { kind: 'unsupported', format: 'mp3', reason: 'MPEG audio (MP3); convert it to PCM WAV' };
  }
  if (startsWith(bytes, [0x1f, 0x8b])) return { kind: 'unsupported', format: 'gzip', reason: 'a gzip archive' };
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return { kind: 'unsupported', format: 'zip', reason: 'a ZIP archive' };
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46]) || ascii(bytes, 0, 2) === 'MZ') return { kind: 'unsupported', format: 'executable', reason: 'an executable' };
  const what = describeUnknown(bytes);
  if (what === 'an SVG/XML document') return { kind: 'unsupported', format: 'svg', reason: 'an SVG (vector) image; bonsai does not rasterise SVG, export it as PNG' };
  return { kind: 'unknown', what };
}

/** The lower-case extension of a file name, with the dot (`''` when there is none). */
export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

/**
 * A note for the verdict when the name's extension disagrees with the sniffed
 * format (`undefined` when it agrees or there is no extension). Such files are
 * accepted: the content decides, the name is only a hint.
 */
export function extensionMismatch(name: string, format: ImageFormat | 'wav'): string | undefined {
  const ext = extensionOf(name);
  if (ext === '' || FORMAT_EXTENSIONS[format].includes(ext)) return undefined;
  return `content is ${format.toUpperCase()} although the name ends in ${ext}`;
}

/** The modality a sniff result dispatches to, if any. */
export function modalityOf(result: SniffResult): Modality | undefined {
  return result.kind === 'image' || result.kind === 'audio' ? result.modality : undefined;
}

/**
 * The error for content that `expected` (a pipeline, or any) does not accept:
 * `BONSAI_INGEST_FORMAT_UNKNOWN` or `BONSAI_INGEST_FORMAT_UNSUPPORTED`, naming
 * what the content is and, when given, the file name.
 */
export function formatError(result: SniffResult, expected: Modality | 'any', name?: string): BonsaiError {
  const where = name === undefined ? '' : ` (${name})`;
  if (result.kind === 'unknown') {
    const ext = name === undefined ? '' : extensionOf(name);
    const hint = ext === '' ? '' : ` although the name ends in ${ext}`;
    return new BonsaiError(FormatErrorCode.UNKNOWN, `not an image or a WAV recording${where}: the content is ${result.what}${hint}`, { what: result.what, extension: ext || undefined });
  }
  if (result.kind === 'unsupported') {
    return new BonsaiError(FormatErrorCode.UNSUPPORTED, `unsupported format ${result.format}${where}: ${result.reason}`, { format: result.format });
  }
  return new BonsaiError(FormatErrorCode.UNSUPPORTED, `expected ${expected === 'audio' ? 'a WAV recording' : 'an image'}${where} but the content is ${result.format.toUpperCase()} (${result.modality})`, { format: result.format, modality: result.modality });
}

