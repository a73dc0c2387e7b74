/**
 * Mel-frequency cepstral coefficients (S. Davis and P. Mermelstein, "Comparison
 * of parametric representations for monosyllabic word recognition in
 * continuously spoken sentences", IEEE TASSP 28(4), 1980), computed the way
 * speech recognisers do (S. Young et al., "The HTK Book", chapter 5):
 *
 * 1. pre-emphasis over the whole signal: y[n] = x[n] - a x[n-1], x[-1] = 0;
 * 2. frames of round(sr * windowMs / 1000) samples every round(sr * hopMs / 1000),
 *    only whole frames: 1 + floor((samples - window) / hop) of them;
 * 3. a symmetric Hamming window, 0.54 - 0.46 cos(2 pi n / (window - 1));
 * 4. power spectrum |X[k]|^2 of the zero-padded fftSize-point FFT;
 * 5. triangular HTK mel filterbank (see mel.ts);
 * 6. natural log of each filter energy, floored at 1e-10 so silence stays finite;
 * 7. orthonormal DCT-II, the first `coefficients` values (c0 included);
 * 8. deltas and delta-deltas by the regression formula
 *    d[t] = sum_{n=1..N} n (c[t+n] - c[t-n]) / (2 sum_{n=1..N} n^2),
 *    frames beyond the edges replaced by the first or last frame;
 * 9. per-utterance mean and variance normalisation of every column (a column
 *    with standard deviation below 1e-8 is only centred).
 *
 * No liftering: it scales each coefficient by a constant, which step 9 undoes.
 * Matrices (window, filterbank, DCT) and scratch buffers are built once per
 * (spec, sample rate) and cached; nothing is allocated per frame.
 */
import { BonsaiError } from '../../core/errors.ts';
import type { AudioSpec } from '../types.ts';
import { AudioErrorCode } from './codes.ts';
import { RealFft } from './fft.ts';
import { type MelFilterbank, melFilterbank } from './mel.ts';
import { type FrameGeometry, featureWidth, frameCount, frameGeometry } from './spec.ts';

/** Floor applied to filterbank energies before the log. */
export const LOG_FLOOR = 1e-10;
/** Columns with a smaller standard deviation are centred but not scaled. */
const STD_FLOOR = 1e-8;
const PLAN_CACHE_SIZE = 16;

/** Row-major features of one utterance. */
export interface FeatureMatrix {
  /** frames x width values, row-major. */
  features: Float32Array;
  /** Number of frames (rows). */
  frames: number;
  /** Values per frame (columns). */
  width: number;
}

/** Everything precomputed for one (spec, sample rate). */
interface MfccPlan {
  geometry: FrameGeometry;
  preEmphasis: number;
  window: Float64Array;
  fft: RealFft;
  filterbank: MelFilterbank;
  /** coefficients x melFilters orthonormal DCT-II matrix. */
  dct: Float64Array;
  coefficients: number;
  /** Scratch: one zero-padded frame, its power spectrum. */
  frame: Float64Array;
  power: Float64Array;
}

const plans = new Map<string, MfccPlan>();

function planFor(spec: AudioSpec, sampleRate: number): MfccPlan {
  // Every field is in the key, so a spec is validated (by frameGeometry) before its first use.
  const key = JSON.stringify([
    sampleRate, spec.sampleRate, spec.preEmphasis, spec.windowMs, spec.hopMs, spec.fftSize, spec.melFilters,
    spec.coefficients, spec.lowHz, spec.highHz, spec.deltas, spec.deltaWindow, spec.normalize,
  ]);
  const cached = plans.get(key);
  if (cached !== undefined) return cached;
  const geometry = frameGeometry(spec, sampleRate);
  const { windowLength, fftSize } = geometry;
  const window = new Float64Array(windowLength);
  for (let n = 0; n < windowLength; n++) window[n] = 0.54 - 0.46 * Math.cos((2 * Math.PI * n) / (windowLength - 1));
  const m = spec.melFilters;
  const dct = new Float64Array(spec.coefficients * m);
  for (let k = 0; k < spec.coefficients; k++) {
    const scale = Math.sqrt((k === 0 ? 1 : 2) / m);
    for (let j = 0; j < m; j++) dct[k * m + j] = scale * Math.cos((Math.PI * k * (j + 0.5)) / m);
  }
  const plan: MfccPlan = {
    geometry,
    preEmphasis: spec.preEmphasis,
    window,
    fft: new RealFft(fftSize),
    filterbank: melFilterbank(sampleRate, fftSize, m, spec.lowHz, geometry.highHz),
    dct,
    coefficients: spec.coefficients,
    frame: new Float64Array(fftSize),
    power: new Float64Array(fftSize / 2 + 1),
  };
  if (plans.size >= PLAN_CACHE_SIZE) plans.delete(plans.keys().next().value as string);
  plans.set(key, plan);
  return plan;
}

function framesOf(signal: Float32Array, sampleRate: number, geometry: FrameGeometry): number {
  const frames = frameCount(signal.length, geometry);
  if (frames === 0) {
    throw new BonsaiError(
      AudioErrorCode.TOO_SHORT,
      `audio has ${signal.length} samples at ${sampleRate} Hz, fewer than one ${geometry.windowLength}-sample analysis window`,
      { samples: signal.length, sampleRate, windowLength: geometry.windowLength },
    );
  }
  return frames;
}

/** Writes the log mel energies of every frame into `out` (frames x melFilters, row-major). */
function logMel(plan: MfccPlan, signal: Float32Array, frames: number, out: Float64Array): void {
  const { window, frame, power, fft, filterbank, preEmphasis } = plan;
  const { windowLength, hopLength } = plan.geometry;
  const filters = filterbank.filters;
  for (let t = 0; t < frames; t++) {
    const s = t * hopLength;
    let prev = s > 0 ? signal[s - 1] : 0;
    for (let n = 0; n < windowLength; n++) {
      const x = signal[s + n];
      frame[n] = (x - preEmphasis * prev) * window[n];
      prev = x;
    }
    // frame[windowLength..fftSize) stays zero: it is never written.
    fft.power(frame, power);
    const row = t * filters;
    for (let m = 0; m < filters; m++) {
      const w = filterbank.weights[m];
      const k0 = filterbank.start[m];
      let e = 0;
      for (let j = 0; j < w.length; j++) e += w[j] * power[k0 + j];
      out[row + m] = Math.log(e > LOG_FLOOR ? e : LOG_FLOOR);
    }
  }
}

/**
 * Log mel filterbank energies (steps 1-6 above) of `signal` at `sampleRate`:
 * frames x melFilters. Throws BONSAI_INGEST_AUDIO_TOO_SHORT when the signal is
 * shorter than one window.
 */
export function logMelSpectrogram(signal: Float32Array, sampleRate: number, spec: AudioSpec): FeatureMatrix {
  const plan = planFor(spec, sampleRate);
  const frames = framesOf(signal, sampleRate, plan.geometry);
  const out = new Float64Array(frames * spec.melFilters);
  logMel(plan, signal, frames, out);
  return { features: Float32Array.from(out), frames, width: spec.melFilters };
}

/**
 * Regression deltas (step 8) of columns [src, src + count) of a row-major
 * frames x stride matrix, written to columns [dst, dst + count).
 */
export function appendDeltas(data: Float64Array, frames: number, stride: number, src: number, dst: number, count: number, window: number): void {
  let denominator = 0;
  for (let n = 1; n <= window; n++) denominator += n * n;
  denominator *= 2;
  const last = frames - 1;
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < count; c++) {
      let acc = 0;
      for (let n = 1; n <= window; n++) {
        const ahead = t + n > last ? last : t + n;
        const behind = t - n < 0 ? 0 : t - n;
        acc += n * (data[ahead * stride + src + c] - data[behind * stride + src + c]);
      }
      data[t * stride + dst + c] = acc / denominator;
    }
  }
}

/** Per-column mean and variance normalisation (step 9), in place. */
export function normalizeColumns(data: Float64Array, frames: number, width: number): void {
  for (let c = 0; c < width; c++) {
    let sum = 0;
    for (let t = 0; t < frames; t++) sum += data[t * width + c];
    const mean = sum / frames;
    let sq = 0;
    for (let t = 0; t < frames; t++) {
      const d = data[t * width + c] - mean;
      sq += d * d;
    }
    const std = Math.sqrt(sq / frames);
    const scale = std > STD_FLOOR ? 1 / std : 1;
    for (let t = 0; t < frames; t++) data[t * width + c] = (data[t * width + c] - mean) * scale;
  }
}

/**
 * MFCC features of `signal` sampled at `sampleRate` (steps 1-9 above; `spec`
 * gives every parameter; spec.sampleRate is not used here, it is the rate
 * `processAudio` resamples to). Shape: frames x coefficients*(deltas ? 3 : 1).
 * Throws BONSAI_INGEST_AUDIO_TOO_SHORT when the signal is shorter than one window.
 */
export function mfcc(signal: Float32Array, sampleRate: number, spec: AudioSpec): FeatureMatrix {
  const plan = planFor(spec, sampleRate);
  const frames = framesOf(signal, sampleRate, plan.geometry);
  const filters = spec.melFilters;
  const energies = new Float64Array(frames * filters);
  logMel(plan, signal, frames, energies);
  const cc = plan.coefficients;
  const width = featureWidth(spec);
  const data = new Float64Array(frames * width);
  const { dct } = plan;
  for (let t = 0; t < frames; t++) {
    const e = t * filters;
    for (let k = 0; k < cc; k++) {
      const d = k * filters;
      let acc = 0;
      for (let j = 0; j < filters; j++) acc += dct[d + j] * energies[e + j];
      data[t * width + k] = acc;
    }
  }
  if (spec.deltas) {
    appendDeltas(data, frames, width, 0, cc, cc, spec.deltaWindow);
    appendDeltas(data, frames, width, cc, 2 * cc, cc, spec.deltaWindow);
  }
  if (spec.normalize) normalizeColumns(data, frames, width);
  return { features: Float32Array.from(data), frames, width };
}
