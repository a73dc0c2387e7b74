/**
 * The default AudioSpec and its validation, and the framing arithmetic shared
 * by the MFCC front end and its callers.
 */
import { BonsaiError } from '../../core/errors.ts';
import type { AudioSpec } from '../types.ts';
import { AudioErrorCode } from './codes.ts';
import { isPowerOfTwo, MAX_FFT_SIZE } from './fft.ts';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from './wav.ts';

/**
 * MFCCs as speech recognisers compute them, at the native rate of the Free
 * Spoken Digit Dataset (8 kHz): 25 ms Hamming windows every 10 ms, a 512-point
 * FFT, 26 HTK mel filters from 20 Hz to the Nyquist frequency, 13 cepstral
 * coefficients (c0 included) with deltas and delta-deltas over +-2 frames (39
 * values a frame), and per-utterance mean and variance normalisation. These are
 * the HTK book's defaults (S. Young et al., "The HTK Book", section 5.6) apart
 * from the filter range and the normalisation.
 */
export const defaultAudioSpec: Readonly<AudioSpec> = Object.freeze({
  sampleRate: 8000,
  preEmphasis: 0.97,
  windowMs: 25,
  hopMs: 10,
  fftSize: 512,
  melFilters: 26,
  coefficients: 13,
  lowHz: 20,
  highHz: 0,
  deltas: true,
  deltaWindow: 2,
  normalize: true,
});

/** Window, hop and FFT length in samples at one sample rate. */
export interface FrameGeometry {
  /** Samples per analysis window: round(sampleRate * windowMs / 1000). */
  windowLength: number;
  /** Samples between window starts: round(sampleRate * hopMs / 1000). */
  hopLength: number;
  /** FFT length: spec.fftSize, or the next power of two of the window (at least 4) when 0; at most MAX_FFT_SIZE. */
  fftSize: number;
  /** Upper filterbank edge in Hz (spec.highHz, or the Nyquist frequency when 0). */
  highHz: number;
}

function invalid(message: string, details: Record<string, unknown>): BonsaiError {
  return new BonsaiError(AudioErrorCode.SPEC_INVALID, `invalid AudioSpec: ${message}`, details);
}

/** The FFT length of `fftSize` for a window of `windowLength` samples: fftSize, or when 0 the next power of two of the window (at least 4). */
function fftSizeOf(fftSize: number, windowLength: number): number {
  return Math.max(4, fftSize === 0 ? 2 ** Math.ceil(Math.log2(windowLength)) : fftSize);
}

/** Window, hop and FFT sizes of `spec` at `sampleRate` (validated). */
export function frameGeometry(spec: AudioSpec, sampleRate: number = spec.sampleRate): FrameGeometry {
  validateAudioSpec(spec, sampleRate);
  const windowLength = Math.round((sampleRate * spec.windowMs) / 1000);
  const hopLength = Math.round((sampleRate * spec.hopMs) / 1000);
  const highHz = spec.highHz === 0 ? sampleRate / 2 : spec.highHz;
  return { windowLength, hopLength, fftSize: fftSizeOf(spec.fftSize, windowLength), highHz };
}

/**
 * Throws BONSAI_INGEST_AUDIO_SPEC_INVALID when a field of `spec` is out of
 * range or inconsistent at `sampleRate` (default: spec.sampleRate).
 */
export function validateAudioSpec(spec: AudioSpec, sampleRate: number = spec.sampleRate): void {
  const numbers: Array<[string, number]> = [
    ['sampleRate', spec.sampleRate], ['preEmphasis', spec.preEmphasis], ['windowMs', spec.windowMs], ['hopMs', spec.hopMs],
    ['fftSize', spec.fftSize], ['melFilters', spec.melFilters], ['coefficients', spec.coefficients], ['lowHz', spec.lowHz],
    ['highHz', spec.highHz], ['deltaWindow', spec.deltaWindow],
  ];
  for (const [name, value] of numbers) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} must be a finite number, got ${value}`, { [name]: value });
  }
  for (const [name, rate] of [['sampleRate', spec.sampleRate], ['analysis rate', sampleRate]] as const) {
    if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
      throw invalid(`${name} ${rate} Hz must be an integer in [${MIN_SAMPLE_RATE}, ${MAX_SAMPLE_RATE}]`, { sampleRate: rate });
    }
  }
  if (spec.preEmphasis < 0 || spec.preEmphasis >= 1) throw invalid(`preEmphasis ${spec.preEmphasis} must be in [0, 1)`, { preEmphasis: spec.preEmphasis });
  const windowLength = Math.round((sampleRate * spec.windowMs) / 1000);
  const hopLength = Math.round((sampleRate * spec.hopMs) / 1000);
  if (windowLength < 2) throw invalid(`windowMs ${spec.windowMs} gives ${windowLength} samples at ${sampleRate} Hz; at least 2 are needed`, { windowMs: spec.windowMs, windowLength });
  if (hopLength < 1) throw invalid(`hopMs ${spec.hopMs} gives ${hopLength} samples at ${sampleRate} Hz; at least 1 is needed`, { hopMs: spec.hopMs, hopLength });
  if (spec.fftSize !== 0 && (!isPowerOfTwo(spec.fftSize) || spec.fftSize < windowLength || spec.fftSize < 4)) {
    throw invalid(`fftSize ${spec.fftSize} must be 0 or a power of two of at least the window (${windowLength} samples) and 4`, { fftSize: spec.fftSize, windowLength });
  }
  const fftSize = fftSizeOf(spec.fftSize, windowLength);
  if (fftSize > MAX_FFT_SIZE) {
    throw invalid(spec.fftSize === 0
      ? `fftSize 0 takes the next power of two of the window of ${windowLength} samples (windowMs ${spec.windowMs} at ${sampleRate} Hz), ${fftSize}, more than the largest FFT, ${MAX_FFT_SIZE}`
      : `fftSize ${spec.fftSize} is more than the largest FFT, ${MAX_FFT_SIZE}`, { fftSize: spec.fftSize, windowLength, maxFftSize: MAX_FFT_SIZE });
  }
  if (!Number.isInteger(spec.melFilters) || spec.melFilters < 1 || spec.melFilters > 256) {
    throw invalid(`melFilters ${spec.melFilters} must be an integer in [1, 256]`, { melFilters: spec.melFilters });
  }
  if (!Number.isInteger(spec.coefficients) || spec.coefficients < 1 || spec.coefficients > spec.melFilters) {
    throw invalid(`coefficients ${spec.coefficients} must be an integer in [1, melFilters = ${spec.melFilters}]`, { coefficients: spec.coefficients, melFilters: spec.melFilters });
  }
  const nyquist = sampleRate / 2;
  const highHz = spec.highHz === 0 ? nyquist : spec.highHz;
  if (spec.lowHz < 0 || highHz > nyquist || spec.lowHz >= highHz) {
    throw invalid(`filterbank range [${spec.lowHz}, ${highHz}] Hz must satisfy 0 <= lowHz < highHz <= ${nyquist} (Nyquist at ${sampleRate} Hz)`, { lowHz: spec.lowHz, highHz: spec.highHz, sampleRate });
  }
  // Filters without an FFT bin (more filters than bins, or narrower than their spacing) are not
  // refused: their features are constant, and samples and models made with such a spec must still
  // decode. The daemon says so at start (config.mel_filters_empty; firstEmptyFilter in mel.ts).
  if (spec.deltas && (!Number.isInteger(spec.deltaWindow) || spec.deltaWindow < 1)) {
    throw invalid(`deltaWindow ${spec.deltaWindow} must be a positive integer`, { deltaWindow: spec.deltaWindow });
  }
}

/** Frames of `samples` samples: 1 + floor((samples - window) / hop), 0 when shorter than one window. */
export function frameCount(samples: number, geometry: Pick<FrameGeometry, 'windowLength' | 'hopLength'>): number {
  if (samples < geometry.windowLength) return 0;
  return 1 + Math.floor((samples - geometry.windowLength) / geometry.hopLength);
}

/**
 * Most frames a recording of `seconds` gives under `spec`, at whatever rate it was recorded (it
 * is resampled to `spec.sampleRate` first; one sample more covers the resampler's rounding up).
 */
export function longestFrames(spec: AudioSpec, seconds: number): number {
  return frameCount(Math.ceil(seconds * spec.sampleRate) + 1, frameGeometry(spec));
}

/** Values per frame: coefficients, times 3 with deltas and delta-deltas. */
export function featureWidth(spec: AudioSpec): number {
  return spec.coefficients * (spec.deltas ? 3 : 1);
}
