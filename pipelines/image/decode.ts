/**
 * One sharp pipeline per image: decode (first frame or page only), orient by
 * EXIF, flatten alpha onto white, optionally resize, convert to 8-bit gray or
 * sRGB, and hand back raw bytes. Limits: sharp's `limitInputPixels` (checked
 * against the header before any pixel is decoded), `failOn: 'warning'` (the
 * setting libvips recommends for untrusted input: truncated data and bad
 * checksums are errors), and a wall-clock timeout.
 */
import sharp, { type OutputInfo } from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import type { IngestLimits } from '../types.ts';
import type { ImageFormat } from '../sniff.ts';
import { ImageErrorCode } from './codes.ts';

/** Resize inside the sharp pipeline: to an exact size (letterbox or cover), or down to a longest side. */
export type DecodeResize =
  | { width: number; height: number; fit: 'contain' | 'cover' }
  | { maxSide: number };

/** What to decode to. */
export interface DecodeArgs {
  /** 1 = gray (`b-w`), 3 = sRGB; alpha is always flattened onto white. */
  channels: 1 | 3;
  /** Optional resize (none = the image's own size). */
  resize?: DecodeResize;
  /** Format from sniffing, for messages. */
  format: ImageFormat;
}

/** Decoded 8-bit pixels, row-major, channels interleaved. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 3;
}

const WHITE = { r: 255, g: 255, b: 255 };
const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/** Translates an error thrown by sharp/libvips into a coded BonsaiError. */
export function sharpError(err: unknown, format: ImageFormat, limits: Pick<IngestLimits, 'maxPixels' | 'decodeTimeoutMs'>): BonsaiError {
  if (err instanceof BonsaiError) return err;
  // libvips repeats its lines (one per attempt of each loader): each line once, and none already said by an earlier one.
  const lines = (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const kept: string[] = [];
  for (const l of lines) if (!kept.some((k) => k.includes(l))) kept.push(l);
  const message = kept.join('; ').replace(/:$/, '');
  if (/pixel limit/i.test(message)) {
    return new BonsaiError(ImageErrorCode.TOO_MANY_PIXELS, `${format} image exceeds the limit of ${limits.maxPixels} pixels (decoder: ${message})`, { format, maxPixels: limits.maxPixels }, { cause: err });
  }
  if (/^timeout/i.test(message)) {
    return new BonsaiError(ImageErrorCode.TIMEOUT, `decoding the ${format} image took longer than ${limits.decodeTimeoutMs} ms (decoder: ${message})`, { format, decodeTimeoutMs: limits.decodeTimeoutMs }, { cause: err });
  }
  if (/unsupported|channel limit|no decoding plugin|not supported/i.test(message)) {
    return new BonsaiError(ImageErrorCode.UNSUPPORTED, `cannot decode this ${format} image: ${message}`, { format, decoder: message }, { cause: err });
  }
  return new BonsaiError(ImageErrorCode.CORRUPT, `corrupt ${format} image: ${message || 'the decoder failed'}`, { format, decoder: message }, { cause: err });
}

/** How many decode timeouts an image may wait while sharp's queue holds other work (see `decodeRaw`). */
export const QUEUE_WAIT_FACTOR = 6;

/**
 * Whether a decode whose timer ran out after `waitedMs` gets another `timeoutMs`: only while other
 * work is queued in sharp (so this one may not have started) and up to QUEUE_WAIT_FACTOR timeouts.
 */
export function extendsDeadline(waitedMs: number, queued: number, timeoutMs: number): boolean {
  return queued > 0 && waitedMs < timeoutMs * QUEUE_WAIT_FACTOR;
}

/** Decodes `bytes` with one sharp pipeline; rejects with a BONSAI_INGEST_IMAGE_* code. */
export async function decodeRaw(bytes: Uint8Array, args: DecodeArgs, limits: Pick<IngestLimits, 'maxPixels' | 'decodeTimeoutMs'>): Promise<RawImage> {
  const input = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let work: Promise<{ data: Buffer; info: OutputInfo }>;
  try {
    let pipeline = sharp(input, {
      failOn: 'warning',
      limitInputPixels: limits.maxPixels,
      autoOrient: true,
      sequentialRead: true,
      animated: false,
      pages: 1,
      page: 0,
    })
      // libvips' own timeout (whole seconds) stops the native work; the timer below enforces the milliseconds.
      .timeout({ seconds: Math.min(3600, Math.max(1, Math.ceil(limits.decodeTimeoutMs / 1000))) })
      .flatten({ background: WHITE });
    const resize = args.resize;
    if (resize !== undefined && 'maxSide' in resize) {
      pipeline = pipeline.resize({ width: resize.maxSide, height: resize.maxSide, fit: 'inside', withoutEnlargement: true });
    } else if (resize !== undefined) {
      pipeline = pipeline.resize({ width: resize.width, height: resize.height, fit: resize.fit, position: 'centre', background: BLACK });
    }
    work = pipeline
      .toColourspace(args.channels === 1 ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw sharpError(err, args.format, limits);
  }
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const deadline = new Promise<never>((_, reject) => {
    // The clock starts when the work is handed to sharp, but under load it first waits in sharp's queue (libuv's
    // thread pool): while other decodes are queued, the deadline is extended, up to QUEUE_WAIT_FACTOR times, so
    // that a valid image is not refused (and quarantined) for time it spent waiting; libvips' own timeout above
    // counts processing only.
    const arm = (): void => {
      timer = setTimeout(() => {
        const waited = Date.now() - started;
        const queued = sharp.counters().queue;
        if (extendsDeadline(waited, queued, limits.decodeTimeoutMs)) {
          arm();
          return;
        }
        const why = queued > 0 ? `did not finish within ${waited} ms with ${queued} other decodes queued (the decoder is overloaded)` : `took longer than ${limits.decodeTimeoutMs} ms`;
        reject(new BonsaiError(ImageErrorCode.TIMEOUT, `decoding the ${args.format} image ${why}`, { format: args.format, decodeTimeoutMs: limits.decodeTimeoutMs, waitedMs: waited, queued }));
      }, limits.decodeTimeoutMs);
    };
    arm();
  });
  try {
    const { data, info } = await Promise.race([work, deadline]);
    if (info.channels !== args.channels || data.length !== info.width * info.height * args.channels) {
      throw new BonsaiError(ImageErrorCode.UNSUPPORTED, `the decoder returned ${info.channels} channels of ${info.width}x${info.height} (${data.length} bytes), expected ${args.channels} channels`, { format: args.format, channels: info.channels, width: info.width, height: info.height });
    }
    return { data, width: info.width, height: info.height, channels: args.channels };
  } catch (err) {
    throw sharpError(err, args.format, limits);
  } finally {
    clearTimeout(timer);
    // The native work may finish after the deadline; its late result or error is dropped.
    work.catch(() => undefined);
  }
}
