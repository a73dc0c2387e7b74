/**
 * The MNIST normalisation (LeCun, Cortes, Burges, "The MNIST database of
 * handwritten digits", http://yann.lecun.com/exdb/mnist/): "size normalized to
 * fit in a 20x20 pixel box while preserving their aspect ratio [...] grey
 * levels as a result of the anti-aliasing technique [...] centered in a 28x28
 * image by computing the center of mass of the pixels, and translating the
 * image so as to position this point at the center of the 28x28 field."
 * MNIST digits are bright on a dark background, so light backgrounds are
 * inverted first.
 *
 * Steps, on an 8-bit gray image:
 * 1. background = median of the border pixels; a background above mid-gray is
 *    inverted so that ink is bright;
 * 2. contrast = brightest pixel - background; under `MIN_CONTRAST` there is
 *    no digit (BONSAI_INGEST_IMAGE_BLANK);
 * 3. intensities are stretched so that the background (plus a 10 % noise floor)
 *    is 0 and the brightest ink is 1;
 * 4. bounding box of the pixels above 30 % of the contrast;
 * 5. the box is resampled (area averaging) so that its longer side is 20 px
 *    (20/28 of the output's shorter side for other sizes);
 * 6. it is placed so that its centre of mass lands on the centre of the
 *    output, rounded to whole pixels; a box that would then stick out is
 *    moved back inside (no ink is ever cut off).
 */
import { BonsaiError } from '../../core/errors.ts';
import { ImageErrorCode } from './codes.ts';
import { resampleRegion } from './resample.ts';

/** Smallest difference (0-255) between background and brightest ink that counts as a digit. */
export const MIN_CONTRAST = 32;
/** Share of the contrast below which a pixel is background noise. */
const NOISE_FLOOR = 0.1;
/** Share of the contrast above which a pixel belongs to the digit's bounding box. */
const BOX_THRESHOLD = 0.3;

/** The centred digit and what was done to find it. */
export interface MnistResult {
  /** (outHeight, outWidth) intensities in [0, 1], digit bright on dark. */
  pixels: Float32Array;
  /** The background was light and the image was inverted. */
  inverted: boolean;
  /** The digit's bounding box in the source image. */
  box: { x: number; y: number; width: number; height: number };
}

function borderMedian(gray: Uint8Array, width: number, height: number): number {
  const hist = new Uint32Array(256);
  let n = 0;
  const add = (v: number): void => {
    hist[v]++;
    n++;
  };
  for (let x = 0; x < width; x++) {
    add(gray[x]);
    if (height > 1) add(gray[(height - 1) * width + x]);
  }
  for (let y = 1; y < height - 1; y++) {
    add(gray[y * width]);
    if (width > 1) add(gray[y * width + width - 1]);
  }
  let seen = 0;
  for (let v = 0; v < 256; v++) {
    seen += hist[v];
    if (seen * 2 >= n) return v;
  }
  return 255;
}

/** Centres the digit in the one-channel `gray` image (`width` x `height`) the MNIST way, into `outWidth` x `outHeight`. */
export function mnistCentre(gray: Uint8Array, width: number, height: number, outWidth = 28, outHeight = 28): MnistResult {
  const background = borderMedian(gray, width, height);
  const inverted = background > 127;
  const bg = inverted ? 255 - background : background;
  let peak = 0;
  for (let i = 0; i < width * height; i++) {
    const v = inverted ? 255 - gray[i] : gray[i];
    if (v > peak) peak = v;
  }
  const contrast = peak - bg;
  if (contrast < MIN_CONTRAST) {
    throw new BonsaiError(ImageErrorCode.BLANK, `no digit found: the brightest ${inverted ? 'ink' : 'pixel'} differs from the background (${background}) by ${Math.max(0, contrast)} of 255, at least ${MIN_CONTRAST} needed`, { background, contrast, minContrast: MIN_CONTRAST, inverted });
  }
  const boxLevel = bg + BOX_THRESHOLD * contrast;
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = gray[y * width + x];
      if ((inverted ? 255 - g : g) >= boxLevel) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  const boxWidth = x1 - x0 + 1;
  const boxHeight = y1 - y0 + 1;
  // Stretched intensities of the bounding box: (boxHeight, boxWidth) in [0, 1].
  const floor = bg + NOISE_FLOOR * contrast;
  const span = peak - floor;
  const crop = new Float32Array(boxWidth * boxHeight);
  for (let y = 0; y < boxHeight; y++) {
    for (let x = 0; x < boxWidth; x++) {
      const g = gray[(y0 + y) * width + x0 + x];
      const v = ((inverted ? 255 - g : g) - floor) / span;
      crop[y * boxWidth + x] = v <= 0 ? 0 : v >= 1 ? 1 : v;
    }
  }
  const boxSide = Math.max(1, Math.round((Math.min(outWidth, outHeight) * 20) / 28));
  const scale = boxSide / Math.max(boxWidth, boxHeight);
  const targetWidth = Math.min(boxSide, Math.max(1, Math.round(boxWidth * scale)));
  const targetHeight = Math.min(boxSide, Math.max(1, Math.round(boxHeight * scale)));
  const digit = resampleRegion(crop, boxWidth, { x: 0, y: 0, width: boxWidth, height: boxHeight }, targetWidth, targetHeight);
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++) {
      const v = digit[y * targetWidth + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const cx = mass > 0 ? mx / mass : (targetWidth - 1) / 2;
  const cy = mass > 0 ? my / mass : (targetHeight - 1) / 2;
  const ox = Math.min(outWidth - targetWidth, Math.max(0, Math.round((outWidth - 1) / 2 - cx)));
  const oy = Math.min(outHeight - targetHeight, Math.max(0, Math.round((outHeight - 1) / 2 - cy)));
  const pixels = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < targetHeight; y++) {
    pixels.set(digit.subarray(y * targetWidth, (y + 1) * targetWidth), (oy + y) * outWidth + ox);
  }
  return { pixels, inverted, box: { x: x0, y: y0, width: boxWidth, height: boxHeight } };
}
