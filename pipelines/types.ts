/**
 * Shared types of the ingestion pipelines: what a processed file becomes before
 * it is stored, and the specs that say how to process it.
 */

import type { Modality } from '../core/models/options.ts';

/** Which pipeline a file goes through (core/models/options.ts). */
export type { Modality };

/** How images become model input (from the model's input spec and the config). */
export interface ImageSpec {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** `fit` letterboxes, `fill` crops to cover, `mnist` is the MNIST convention (20x20 box, centre of mass in 28x28, light backgrounds inverted). */
  resize: 'fit' | 'fill' | 'mnist';
  /** Range the pixel values are scaled to. */
  range: [number, number];
}

/** How recordings become model input (MFCC features). */
export interface AudioSpec {
  /** Sample rate the audio is resampled to, in Hz. */
  sampleRate: number;
  /** Pre-emphasis coefficient (0 disables). */
  preEmphasis: number;
  /** Window length in milliseconds (Hamming). */
  windowMs: number;
  /** Hop between windows in milliseconds. */
  hopMs: number;
  /** FFT size (0 = next power of two of the window). */
  fftSize: number;
  /** Number of mel filters. */
  melFilters: number;
  /** Number of cepstral coefficients kept (incl. c0). */
  coefficients: number;
  /** Lowest and highest filterbank frequency in Hz (high 0 = Nyquist). */
  lowHz: number;
  highHz: number;
  /** Append deltas and delta-deltas (3x the coefficients). */
  deltas: boolean;
  /** Delta regression window N (frames each side). */
  deltaWindow: number;
  /** Per-utterance mean and variance normalisation. */
  normalize: boolean;
}

/**
 * How a model's inputs were made, kept in its manifest (`extra.preprocessing`): a served
 * version decodes requests the way its training samples were decoded, whatever the config
 * of the process serving it says (a server configured otherwise, or a config changed since).
 */
export interface Preprocessing {
  image: Pick<ImageSpec, 'resize' | 'range'>;
  audio: AudioSpec;
}

/** Limits applied before and during decoding; exceeding one rejects the file. */
export interface IngestLimits {
  /** Largest accepted file in bytes. */
  maxFileBytes: number;
  /** Largest accepted image in pixels (width x height), passed to sharp's limitInputPixels. */
  maxPixels: number;
  /** Longest accepted recording in seconds. */
  maxAudioSeconds: number;
  /** Wall-clock limit on decoding one file, in milliseconds. */
  decodeTimeoutMs: number;
}

/** A file turned into model input: float32 features and their shape. */
export interface ProcessedSample {
  modality: Modality;
  /** Row-major float32 features. */
  features: Float32Array;
  /** Shape of the features, e.g. [28, 28, 1] or [frames, 39]. */
  shape: number[];
}
