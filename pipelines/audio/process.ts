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
  const signal = resample(downmix(decoded.channels), decoded.sampleRate, spec.sampleRate);
  checkDeadline(started, limits, 'resampling');
  const { features, frames, width } = mfcc(signal, spec.sampleRate, spec);
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
