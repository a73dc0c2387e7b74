/**
 * A minimal WAV writer (canonical 44-byte header, or WAVE_FORMAT_EXTENSIBLE),
 * for synthetic fixtures, demos and round trips through `decodeWav`.
 */

/** How `encodeWav` writes samples. */
export interface EncodeWavOptions {
  /** Bits per sample: 8, 16, 24 or 32 for PCM, 32 or 64 for float (default 16). */
  bitDepth?: 8 | 16 | 24 | 32 | 64;
  /** Write IEEE float samples instead of integer PCM (default false). */
  float?: boolean;
  /** Write a 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk (default false). */
  extensible?: boolean;
}

/** Bytes 2..15 of the KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT GUIDs. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/**
 * Encodes channels of samples in [-1, 1] (a single array for mono) as a WAV
 * file. Integer PCM is scaled by 2^(bits-1), rounded and clipped; 8-bit is
 * unsigned with 128 as zero.
 */
export function encodeWav(channels: Float32Array | readonly Float32Array[], sampleRate: number, options: EncodeWavOptions = {}): Uint8Array {
  const chans = channels instanceof Float32Array ? [channels] : channels;
  const bits = options.bitDepth ?? 16;
  const float = options.float ?? false;
  const extensible = options.extensible ?? false;
  const frames = chans[0]?.length ?? 0;
  const bytesPerSample = bits / 8;
  const blockAlign = chans.length * bytesPerSample;
  const dataBytes = frames * blockAlign;
  const fmtBytes = extensible ? 40 : 16;
  const headerBytes = 12 + 8 + fmtBytes + 8;
  const out = new Uint8Array(headerBytes + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[offset + i] = s.charCodeAt(i);
  };
  const tag = float ? 3 : 1;
  ascii(0, 'RIFF');
  view.setUint32(4, out.length - 8, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, fmtBytes, true);
  view.setUint16(20, extensible ? 0xfffe : tag, true);
  view.setUint16(22, chans.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, bits, true);
  if (extensible) {
    view.setUint16(36, 22, true);
    view.setUint16(38, bits, true);
    view.setUint32(40, 0, true);
    view.setUint16(44, tag, true);
    GUID_TAIL.forEach((b, i) => (out[46 + i] = b));
  }
  ascii(headerBytes - 8, 'data');
  view.setUint32(headerBytes - 4, dataBytes, true);
  let p = headerBytes;
  const max = 2 ** (bits - 1);
  for (let i = 0; i < frames; i++) {
    for (const ch of chans) {
      const x = ch[i];
      if (float) {
        if (bits === 64) view.setFloat64(p, x, true);
        else view.setFloat32(p, x, true);
      } else {
        const q = Math.max(-max, Math.min(max - 1, Math.round(x * max)));
        if (bits === 8) view.setUint8(p, q + 128);
        else if (bits === 16) view.setInt16(p, q, true);
        else if (bits === 24) {
          view.setUint8(p, q & 0xff);
          view.setUint8(p + 1, (q >> 8) & 0xff);
          view.setUint8(p + 2, (q >> 16) & 0xff);
        } else view.setInt32(p, q, true);
      }
      p += bytesPerSample;
    }
  }
  return out;
}
