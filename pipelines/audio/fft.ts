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

/**
 * True when n is a power of two (1, 2, 4, ...). Not by n & (n - 1): bitwise operators
 * truncate to 32 bits, which reads 2^32 + 512 as 512.
 */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/**
 * Largest FFT length: 2^16 samples is 8.2 s at 8 kHz and 341 ms at 192 kHz, far longer than an
 * analysis window (tens of ms), and its tables and scratch take about 1.5 MiB. 2^32 passed once:
 * its tables would take tens of GiB, and the bit reversal's 32-bit operators break past 2^31.
 */
export const MAX_FFT_SIZE = 65_536;

/** A real FFT of one fixed size. */
export class RealFft {
  /** Frame length N (a power of two, 4 to MAX_FFT_SIZE). */
  readonly size: number;
  private readonly half: number;
  /** True when log2(N/2) is odd: one radix-2 stage before the fused pairs. */
  private readonly oddStages: boolean;
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
    if (!isPowerOfTwo(size) || size < 4 || size > MAX_FFT_SIZE) {
      throw new BonsaiError(AudioErrorCode.SPEC_INVALID, `FFT size must be a power of two from 4 to ${MAX_FFT_SIZE}, got ${size}`, { fftSize: size, maxFftSize: MAX_FFT_SIZE });
    }
    this.size = size;
    const half = size / 2;
    this.half = half;
    const bits = Math.log2(half);
    this.oddStages = bits % 2 === 1;
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
    // Iterative butterflies on the N/2 complex values, two radix-2 stages fused
    // into one pass (half the loads and stores), after one plain radix-2 stage
    // when the number of stages is odd.
    const cosHalf = this.cosHalf;
    const sinHalf = this.sinHalf;
    let h = 1;
    if (this.oddStages) {
      for (let a = 0; a < half; a += 2) {
        const br = re[a + 1];
        const bi = im[a + 1];
        re[a + 1] = re[a] - br;
        im[a + 1] = im[a] - bi;
        re[a] += br;
        im[a] += bi;
      }
      h = 2;
    }
    for (; h < half; h *= 4) {
      // Stage 1 combines blocks of h into 2h with W_2h^k, stage 2 blocks of 2h into 4h with W_4h^k and W_4h^(k+h) = -i W_4h^k.
      const quad = 4 * h;
      const step = half / quad;
      for (let k = 0; k < h; k++) {
        const w2r = cosHalf[k * step];
        const w2i = sinHalf[k * step];
        const w1r = cosHalf[2 * k * step];
        const w1i = sinHalf[2 * k * step];
        for (let a0 = k; a0 < half; a0 += quad) {
          const a1 = a0 + h;
          const a2 = a1 + h;
          const a3 = a2 + h;
          const x1r = re[a1] * w1r - im[a1] * w1i;
          const x1i = re[a1] * w1i + im[a1] * w1r;
          const x3r = re[a3] * w1r - im[a3] * w1i;
          const x3i = re[a3] * w1i + im[a3] * w1r;
          const b0r = re[a0] + x1r;
          const b0i = im[a0] + x1i;
          const b1r = re[a0] - x1r;
          const b1i = im[a0] - x1i;
          const b2r = re[a2] + x3r;
          const b2i = im[a2] + x3i;
          const b3r = re[a2] - x3r;
          const b3i = im[a2] - x3i;
          const vr = b2r * w2r - b2i * w2i;
          const vi = b2r * w2i + b2i * w2r;
          // q = -i W b3: (qr, qi) = (Im(W b3), -Re(W b3))
          const qr = b3r * w2i + b3i * w2r;
          const qi = -(b3r * w2r - b3i * w2i);
          re[a0] = b0r + vr;
          im[a0] = b0i + vi;
          re[a2] = b0r - vr;
          im[a2] = b0i - vi;
          re[a1] = b1r + qr;
          im[a1] = b1i + qi;
          re[a3] = b1r - qr;
          im[a3] = b1i - qi;
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
