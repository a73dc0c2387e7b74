/**
 * Separable resampling of a one-channel float image region: area averaging
 * when shrinking (each output pixel is the mean of the source area it covers,
 * the anti-aliasing the MNIST normalisation describes), linear interpolation
 * when enlarging.
 */

/** Source taps of one output pixel along one axis. */
interface Taps {
  index: Int32Array;
  weight: Float32Array;
}

/** Taps mapping `srcLength` source pixels onto `dstLength` output pixels. */
export function axisTaps(srcLength: number, dstLength: number): Taps[] {
  const scale = srcLength / dstLength;
  const taps: Taps[] = [];
  for (let i = 0; i < dstLength; i++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (scale >= 1) {
      const start = i * scale;
      const end = start + scale;
      for (let j = Math.floor(start); j < Math.ceil(end) && j < srcLength; j++) {
        const overlap = Math.min(end, j + 1) - Math.max(start, j);
        if (overlap > 1e-9) {
          index.push(j);
          weight.push(overlap / scale);
        }
      }
    } else {
      const centre = Math.min(srcLength - 1, Math.max(0, (i + 0.5) * scale - 0.5));
      const j = Math.floor(centre);
      const frac = centre - j;
      index.push(j);
      weight.push(1 - frac);
      if (frac > 0 && j + 1 < srcLength) {
        index.push(j + 1);
        weight.push(frac);
      }
    }
    taps.push({ index: Int32Array.from(index), weight: Float32Array.from(weight) });
  }
  return taps;
}

/** A rectangle inside a source image. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Resamples `region` of the `srcWidth`-wide one-channel image `src` to
 * `dstWidth` x `dstHeight` (row-major output).
 */
export function resampleRegion(src: Float32Array, srcWidth: number, region: Region, dstWidth: number, dstHeight: number): Float32Array {
  const xTaps = axisTaps(region.width, dstWidth);
  const yTaps = axisTaps(region.height, dstHeight);
  // Rows first: (region.height, dstWidth), then columns: (dstHeight, dstWidth).
  const rows = new Float32Array(region.height * dstWidth);
  for (let y = 0; y < region.height; y++) {
    const rowStart = (region.y + y) * srcWidth + region.x;
    for (let x = 0; x < dstWidth; x++) {
      const t = xTaps[x];
      let sum = 0;
      for (let k = 0; k < t.index.length; k++) sum += src[rowStart + t.index[k]] * t.weight[k];
      rows[y * dstWidth + x] = sum;
    }
  }
  const out = new Float32Array(dstHeight * dstWidth);
  for (let y = 0; y < dstHeight; y++) {
    const t = yTaps[y];
    for (let x = 0; x < dstWidth; x++) {
      let sum = 0;
      for (let k = 0; k < t.index.length; k++) sum += rows[t.index[k] * dstWidth + x] * t.weight[k];
      out[y * dstWidth + x] = sum;
    }
  }
  return out;
}
