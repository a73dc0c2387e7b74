/**
 * Power spectrum of a real frame by a radix-2 FFT (Cooley and Tukey, 1965).
 *
 * A real frame of N samples is packed into N/2 complex values z[k] = x[2k] +
 * i x[2k+1], transformed by an iterative in-place N/2-point FFT, and split into
 * the N/2 + 1 non-negative-frequency bins of the real transform. Twiddles and
 * the bit-reversal permutation are computed once per size; `power` allocates
 * nothing.
 */
import { BonsaiError } from '../../core/errors.ts';
import { AudioErrorCode } from './codes.ts';

/** True when n is a power of two (1, 2, 4, ...). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** A real FFT of one fixed size. */
export class RealFft {
  /** Frame length N (a power of two, at least 4). */
  readonly size: number;
  private readonly half: number;
  private readonly bitReverse: Uint32Array;
  /** cos and sin of -2 pi k / (N/2), k < N/4: the N/2-point FFT's twiddles. */
  private readonly cosHalf: Float64Array;
  private readonly sinHalf: Float64Array;
  /** cos and sin of -2 pi k / N, k <= N/2: the split step's twiddles. */
  private readonly cosFull: Float64Array;
  private readonly sinFull: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(size: number) {
    if (!isPowerOfTwo(size) || size < 4) {
      throw new BonsaiError(AudioErrorCode.SPEC_INVALID, `FFT size must be a power of two of at least 4, got ${size}`, { fftSize: size });
    }
    this.size = size;
    const half = size / 2;
    this.half = half;
    const bits = Math.log2(half);
    this.bitReverse = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReverse[i] = r;
    }
    this.cosHalf = new Float64Array(Math.max(1, half / 2));
    this.sinHalf = new Float64Array(Math.max(1, half / 2));
    for (let k = 0; k < half / 2; k++) {
      this.cosHalf[k] = Math.cos((-2 * Math.PI * k) / half);
      this.sinHalf[k] = Math.sin((-2 * Math.PI * k) / half);
    }
    this.cosFull = new Float64Array(half + 1);
    this.sinFull = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.cosFull[k] = Math.cos((-2 * Math.PI * k) / size);
      this.sinFull[k] = Math.sin((-2 * Math.PI * k) / size);
    }
    this.re = new Float64Array(half);
    this.im = new Float64Array(half);
  }

  /**
   * Writes |X[k]|^2, k = 0..N/2, of the real frame `input` (N samples) into
   * `out` (at least N/2 + 1 values).
   */
  power(input: Float64Array, out: Float64Array): void {
    const { half, re, im, bitReverse } = this;
    for (let k = 0; k < half; k++) {
      const j = bitReverse[k];
      re[k] = input[2 * j];
      im[k] = input[2 * j + 1];
    }
    // Iterative radix-2 butterflies on the N/2 complex values; each twiddle is loaded once per stage.
    const cosHalf = this.cosHalf;
    const sinHalf = this.sinHalf;
    for (let len = 2; len <= half; len <<= 1) {
      const step = half / len;
      const h = len >> 1;
      for (let k = 0; k < h; k++) {
        const wr = cosHalf[k * step];
        const wi = sinHalf[k * step];
        for (let a = k; a < half; a += len) {
          const b = a + h;
          const br = re[b];
          const bi = im[b];
          const tr = br * wr - bi * wi;
          const ti = br * wi + bi * wr;
          const ar = re[a];
          const ai = im[a];
          re[b] = ar - tr;
          im[b] = ai - ti;
          re[a] = ar + tr;
          im[a] = ai + ti;
        }
      }
    }
    // Split: X[k] = E[k] + W^k O[k], with E = (Z[k] + conj Z[N/2-k]) / 2 and O = (Z[k] - conj Z[N/2-k]) / (2i).
    const cosFull = this.cosFull;
    const sinFull = this.sinFull;
    for (let k = 0; k <= half; k++) {
      const k1 = k === half ? 0 : k;
      const k2 = k === 0 ? 0 : half - k;
      const zr = re[k1];
      const zi = im[k1];
      const cr = re[k2];
      const ci = -im[k2];
      const er = (zr + cr) / 2;
      const ei = (zi + ci) / 2;
      // (z - c) / (2i) = (zi - ci) / 2 - i (zr - cr) / 2
      const or = (zi - ci) / 2;
      const oi = -(zr - cr) / 2;
      const wr = cosFull[k];
      const wi = sinFull[k];
      const xr = er + or * wr - oi * wi;
      const xi = ei + or * wi + oi * wr;
      out[k] = xr * xr + xi * xi;
    }
  }
}
