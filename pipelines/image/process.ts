/**
 * From image bytes to model input: sniff, check the limits, decode with one
 * sharp pipeline, apply the resize policy, scale to the spec's range.
 *
 * Resize policies (ImageSpec.resize):
 * - `fit`: scale to fit inside height x width, preserving the aspect ratio,
 *   and letterbox the rest with black (the low end of the range);
 * - `fill`: scale to cover height x width and crop the centre;
 * - `mnist`: the MNIST convention (see mnist.ts).
 * Alpha is flattened onto white; 16-bit images are reduced to 8 bits; only the
 * first frame of an animated GIF or the first page of a TIFF is read; EXIF
 * orientation is applied. Small plain PNGs are decoded without sharp when no
 * resampling is needed (png-fast.ts), with the same result.
 */
import sharp from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import type { ImageSpec, IngestLimits, ProcessedSample } from '../types.ts';
import { formatError, sniff, type ImageFormat } from '../sniff.ts';
import { ImageErrorCode } from './codes.ts';
import { decodeRaw } from './decode.ts';
import { imageFormatSupport } from './formats.ts';
import { readImageDimensions, type ImageDimensions } from './header.ts';
import { mnistCentre } from './mnist.ts';
import { decodeSimplePng, neutralToGray } from './png-fast.ts';
import { bytesToRange, unitToRange, validateImageSpec } from './spec.ts';

/**
 * Longest side an image is reduced to (inside sharp, never enlarged) before
 * the `mnist` policy looks for the digit in JavaScript: bounds the work on
 * large photos while keeping a digit that fills a tenth of the frame above
 * the 20-pixel box.
 */
export const MNIST_MAX_SIDE = 1024;

/** A processed image and what the pipeline learnt on the way. */
export interface ProcessedImage {
  sample: ProcessedSample;
  /** Format from the magic bytes. */
  format: ImageFormat;
  /** Width and height declared by the header, when the header reader knows the format. */
  sourceWidth?: number;
  sourceHeight?: number;
  /** `mnist` only: the background was light and the image was inverted. */
  inverted?: boolean;
}

/** Throws unless `bytes` fit the file-size limit and are a decodable image format; returns the format. */
function admit(bytes: Uint8Array, limits: IngestLimits): ImageFormat {
  if (bytes.length === 0) throw new BonsaiError(ImageErrorCode.EMPTY, 'the image has 0 bytes', { bytes: 0 });
  if (bytes.length > limits.maxFileBytes) {
    throw new BonsaiError(ImageErrorCode.FILE_TOO_LARGE, `the image has ${bytes.length} bytes, more than the limit of ${limits.maxFileBytes}`, { bytes: bytes.length, maxFileBytes: limits.maxFileBytes });
  }
  const sniffed = sniff(bytes);
  if (sniffed.kind !== 'image') throw formatError(sniffed, 'image');
  if (!imageFormatSupport()[sniffed.format]) {
    throw new BonsaiError(ImageErrorCode.UNSUPPORTED, `this build of sharp cannot decode ${sniffed.format} images`, { format: sniffed.format });
  }
  return sniffed.format;
}

/**
 * The size in the header of a format our own readers do not parse (TIFF, AVIF), from sharp's
 * metadata, which reads the header only; undefined when sharp cannot read it either (decoding
 * then reports why). Messages about the size carry it for every format.
 */
async function sharpDimensions(bytes: Uint8Array): Promise<ImageDimensions | undefined> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return width !== undefined && height !== undefined ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

/** Processes an image and reports the format and source size along with the sample. */
export async function processImageDetailed(bytes: Uint8Array, spec: ImageSpec, limits: IngestLimits): Promise<ProcessedImage> {
  validateImageSpec(spec);
  const format = admit(bytes, limits);
  const dims = readImageDimensions(bytes, format) ?? await sharpDimensions(bytes);
  if (dims !== undefined) {
    if (dims.width === 0 || dims.height === 0) {
      throw new BonsaiError(ImageErrorCode.CORRUPT, `corrupt ${format} image: the header declares ${dims.width}x${dims.height} pixels`, { format, ...dims });
    }
    if (dims.width * dims.height > limits.maxPixels) {
      throw new BonsaiError(ImageErrorCode.TOO_MANY_PIXELS, `${format} image of ${dims.width}x${dims.height} = ${BigInt(dims.width) * BigInt(dims.height)} pixels exceeds the limit of ${limits.maxPixels}`, { format, ...dims, maxPixels: limits.maxPixels });
    }
  }
  const shape = [spec.height, spec.width, spec.channels];
  const source = { sourceWidth: dims?.width, sourceHeight: dims?.height };
  // Small plain PNGs skip sharp (png-fast.ts) where no resampling is needed; the result is the same.
  const sameSize = dims !== undefined && dims.width === spec.width && dims.height === spec.height;
  const fast = format === 'png' && (spec.resize === 'mnist' || sameSize) ? decodeSimplePng(bytes) : undefined;
  // Gray wanted: an RGB image counts as gray only when every pixel is neutral (libvips would give the same).
  const fastGray = fast === undefined ? undefined : neutralToGray(fast);
  if (spec.resize === 'mnist') {
    const raw = fastGray ?? await decodeRaw(bytes, { channels: 1, format, resize: { maxSide: MNIST_MAX_SIDE } }, limits);
    const digit = mnistCentre(raw.data, raw.width, raw.height, spec.width, spec.height);
    const features = unitToRange(digit.pixels, spec.range, spec.channels);
    return { sample: { modality: 'image', features, shape }, format, ...source, inverted: digit.inverted };
  }
  const direct = spec.channels === 1 ? fastGray : fast;
  if (direct !== undefined && direct.width === spec.width && direct.height === spec.height) {
    return { sample: { modality: 'image', features: bytesToRange(direct.data, spec.range, direct.channels === spec.channels ? 1 : 3), shape }, format, ...source };
  }
  const fit = spec.resize === 'fit' ? 'contain' : 'cover';
  const raw = await decodeRaw(bytes, { channels: spec.channels, format, resize: { width: spec.width, height: spec.height, fit } }, limits);
  if (raw.width !== spec.width || raw.height !== spec.height) {
    throw new BonsaiError(ImageErrorCode.UNSUPPORTED, `the decoder returned ${raw.width}x${raw.height}, expected ${spec.width}x${spec.height}`, { format, width: raw.width, height: raw.height });
  }
  return { sample: { modality: 'image', features: bytesToRange(raw.data, spec.range), shape }, format, ...source };
}

/**
 * Turns image bytes into a float32 sample of shape [height, width, channels]
 * per `spec`. Throws a BonsaiError with a BONSAI_INGEST_IMAGE_* or
 * BONSAI_INGEST_FORMAT_* code for anything it does not accept.
 */
export async function processImage(bytes: Uint8Array, spec: ImageSpec, limits: IngestLimits): Promise<ProcessedSample> {
  return (await processImageDetailed(bytes, spec, limits)).sample;
}
