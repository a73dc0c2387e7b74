/**
 * Downmixing to one channel: the equal-weight mean of all channels (an LFE
 * channel, where present, is averaged like the others).
 */
import { BonsaiError } from '../../core/errors.ts';
import { AudioErrorCode } from './codes.ts';

/**
 * Averages the channels sample by sample. A single channel is returned as is
 * (no copy). Throws BONSAI_INGEST_AUDIO_DOWNMIX when there is no channel or the
 * channels differ in length.
 */
export function downmix(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) {
    throw new BonsaiError(AudioErrorCode.DOWNMIX, 'cannot downmix zero channels', { channels: 0 });
  }
  const length = channels[0].length;
  const lengths = channels.map((c) => c.length);
  if (lengths.some((n) => n !== length)) {
    throw new BonsaiError(AudioErrorCode.DOWNMIX, `cannot downmix channels of different lengths [${lengths.join(', ')}]`, { lengths });
  }
  if (channels.length === 1) return channels[0];
  const out = new Float32Array(length);
  const scale = 1 / channels.length;
  // Accumulate in doubles, one pass over each channel.
  const acc = new Float64Array(length);
  for (const channel of channels) {
    for (let i = 0; i < length; i++) acc[i] += channel[i];
  }
  for (let i = 0; i < length; i++) out[i] = acc[i] * scale;
  return out;
}
