/**
 * Which pipeline a file goes through, from its first bytes (not its name):
 * RIFF/WAVE is audio, everything else goes to the image pipeline, whose decoder
 * (sharp) rejects what it cannot read with its own code.
 */
import type { Modality, ProcessedSample } from '../types.ts';
import type { IngestFile, Processor } from './context.ts';

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

/** `audio` for RIFF/WAVE, `image` for PNG, JPEG, GIF, WebP, TIFF, BMP; undefined otherwise. */
export function sniffModality(bytes: Uint8Array): Modality | undefined {
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF') {
    const kind = ascii(bytes, 8, 12);
    if (kind === 'WAVE') return 'audio';
    if (kind === 'WEBP') return 'image';
    return undefined;
  }
  if (bytes.length >= 8 && bytes[0] === 0x89 && ascii(bytes, 1, 4) === 'PNG') return 'image';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image';
  if (bytes.length >= 6 && ascii(bytes, 0, 4) === 'GIF8') return 'image';
  if (bytes.length >= 4 && (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*')) return 'image';
  if (bytes.length >= 2 && ascii(bytes, 0, 2) === 'BM') return 'image';
  return undefined;
}

/** One processor per modality. */
export interface Processors {
  image: (bytes: Buffer, file: IngestFile) => Promise<ProcessedSample>;
  audio: (bytes: Buffer, file: IngestFile) => Promise<ProcessedSample>;
}

/** A `Processor` that sends WAV files to `audio` and everything else to `image`. */
export function processorByContent(processors: Processors): Processor {
  return (bytes, file) => (sniffModality(bytes) === 'audio' ? processors.audio(bytes, file) : processors.image(bytes, file));
}
