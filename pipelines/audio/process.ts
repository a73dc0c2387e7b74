/**
 * The audio pipeline: WAV bytes -> validated samples -> mono -> the spec's
 * sample rate -> MFCC features.
 */
import { BonsaiError } from '../../core/errors.ts';
import type { AudioSpec, IngestLimits, ProcessedSample } from '../types.ts';
import { AudioErrorCode } from './codes.ts';
import { downmix } from './downmix.ts';
import { mfcc } from './mfcc.ts';
import { resample } from './resample.ts';
import { validateAudioSpec } from './spec.ts';
import { decodeWav } from './wav.ts';

/**
 * Throws BONSAI_INGEST_AUDIO_TIMEOUT when more than limits.decodeTimeoutMs have
 * passed since `started`. The stages are synchronous and bounded by the size
 * and duration limits, so the limit is checked between stages; a non-positive
 * or infinite limit disables the check.
 */
function checkDeadline(started: number, limits: IngestLimits, stage: string): void {
  const limit = limits.decodeTimeoutMs;
  if (!(limit > 0) || !Number.isFinite(limit)) return;
  const elapsed = performance.now() - started;
  if (elapsed > limit) {
    throw new BonsaiError(
      AudioErrorCode.TIMEOUT,
      `audio processing took ${elapsed.toFixed(1)} ms by the end of ${stage}; the limit is ${limit} ms`,
      { elapsedMs: elapsed, decodeTimeoutMs: limit, stage },
    );
  }
}

/**
 * Largest peak of a signal taken as silence: one step of 16-bit PCM (about -90 dBFS). Such a
 * recording has no content to learn from, and per-utterance normalisation would turn it into
 * features of exactly zero (or of amplified dither) under whatever label its folder gives.
 */
export const SILENCE_PEAK = 2 ** -15;

function peakOf(x: Float32Array): number {
  let peak = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a > peak) peak = a;
  }
  return peak;
}

const dbfs = (peak: number): string => (peak > 0 ? `${(20 * Math.log10(peak)).toFixed(1)} dBFS` : 'digital zero');

/**
 * Refuses a mono signal that never rises above `SILENCE_PEAK` (BONSAI_INGEST_AUDIO_SILENT); when
 * its channels are louder than their mean, says that they cancel out.
 */
function checkSignal(mono: Float32Array, channels: readonly Float32Array[], sampleRate: number): void {
  const peak = peakOf(mono);
  if (peak > SILENCE_PEAK) return;
  const channelPeaks = channels.map(peakOf);
  const loudest = Math.max(...channelPeaks);
  const seconds = (mono.length / sampleRate).toFixed(3);
  const cancelled = loudest > SILENCE_PEAK;
  throw new BonsaiError(
    AudioErrorCode.SILENT,
    cancelled
      ? `the ${channels.length} channels cancel out when averaged to mono: each peaks at up to ${dbfs(loudest)}, their mean at ${dbfs(peak)} over ${seconds} s (one channel is the other inverted?); keep one channel or fix the wiring`
      : `the recording is silent: its peak is ${dbfs(peak)} over ${seconds} s (${mono.length} samples at ${sampleRate} Hz), no louder than one 16-bit step`,
    { peak, channelPeaks, silencePeak: SILENCE_PEAK, samples: mono.length, sampleRate, cancelled },
  );
}

/**
 * Turns a WAV file into MFCC features: validates the header against `limits`
 * before decoding, decodes, averages the channels, resamples to
 * spec.sampleRate and computes MFCCs with `spec`. Resolves to
 * `{ modality: 'audio', features, shape: [frames, coefficients * (deltas ? 3 : 1)] }`;
 * rejects with a BonsaiError whose code is one of BONSAI_INGEST_WAV_* or
 * BONSAI_INGEST_AUDIO_* (docs/errors-ingest-audio.md).
 */
export async function processAudio(bytes: Uint8Array, spec: AudioSpec, limits: IngestLimits): Promise<ProcessedSample> {
  return processAudioSync(bytes, spec, limits);
}

/** The synchronous body of `processAudio` (the work is CPU-bound and has no I/O). */
export function processAudioSync(bytes: Uint8Array, spec: AudioSpec, limits: IngestLimits): ProcessedSample {
  const started = performance.now();
  validateAudioSpec(spec);
  const decoded = decodeWav(bytes, limits);
  checkDeadline(started, limits, 'decoding');
  const mono = downmix(decoded.channels);
  const signal = resample(mono, decoded.sampleRate, spec.sampleRate);
  checkDeadline(started, limits, 'resampling');
  const { features, frames, width } = featuresOf(signal, spec, mono.length, decoded.sampleRate);
  checkSignal(mono, decoded.channels, decoded.sampleRate);
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      throw new BonsaiError(
        AudioErrorCode.NON_FINITE_FEATURES,
        `feature ${i % width} of frame ${Math.floor(i / width)} is ${features[i]}`,
        { frame: Math.floor(i / width), column: i % width, value: String(features[i]) },
      );
    }
  }
  checkDeadline(started, limits, 'feature extraction');
  return { modality: 'audio', features, shape: [frames, width] };
}

/**
 * MFCCs of the resampled signal; a recording shorter than one analysis window is reported in the
 * file's own figures (its length in ms, its samples at its rate), not in resampled samples.
 */
function featuresOf(signal: Float32Array, spec: AudioSpec, fileSamples: number, fileRate: number): ReturnType<typeof mfcc> {
  try {
    return mfcc(signal, spec.sampleRate, spec);
  } catch (err) {
    if (!(err instanceof BonsaiError) || err.code !== AudioErrorCode.TOO_SHORT) throw err;
    const windowLength = Number(err.details.windowLength);
    const windowMs = (1000 * windowLength) / spec.sampleRate;
    const ms = (1000 * fileSamples) / fileRate;
    throw new BonsaiError(
      AudioErrorCode.TOO_SHORT,
      `audio is ${ms.toFixed(1)} ms long (${fileSamples} samples at ${fileRate} Hz), shorter than one ${windowMs.toFixed(1)} ms analysis window`,
      { ...err.details, durationMs: ms, fileSamples, fileSampleRate: fileRate, windowMs },
    );
  }
}
