/**
 * Hand-written RIFF/WAVE bytes for hostile-input tests: every header field can
 * be set to a wrong value on purpose. Layout: "Multimedia Programming Interface
 * and Data Specifications 1.0" (1991): RIFF header, `fmt ` chunk (format tag,
 * channels, sample rate, byte rate, block align, bits per sample), `data` chunk.
 */

/** Header fields and payload of a WAV file; defaults give 16-bit PCM mono at 16 kHz. */
export interface WavFields {
  /** Container id (default `RIFF`). */
  riff?: string;
  /** Form type (default `WAVE`). */
  form?: string;
  /** Format tag: 1 PCM, 3 IEEE float, 0x55 MP3, ... */
  formatTag?: number;
  channels?: number;
  sampleRate?: number;
  bitsPerSample?: number;
  /** Override the block align (default channels x bytes per sample). */
  blockAlign?: number;
  /** The sample bytes written. */
  data?: Uint8Array;
  /** The size the data chunk header declares (default data.length). */
  declaredDataBytes?: number;
  /** Leave out the fmt or the data chunk. */
  omit?: 'fmt' | 'data';
}

/** Builds the bytes of a WAV file from `fields`. */
export function wavBytes(fields: WavFields = {}): Buffer {
  const formatTag = fields.formatTag ?? 1;
  const channels = fields.channels ?? 1;
  const sampleRate = fields.sampleRate ?? 16000;
  const bits = fields.bitsPerSample ?? 16;
  const blockAlign = fields.blockAlign ?? channels * Math.ceil(bits / 8);
  const data = fields.data ?? new Uint8Array(0);
  const chunks: Buffer[] = [];
  if (fields.omit !== 'fmt') {
    const fmt = Buffer.alloc(8 + 16);
    fmt.write('fmt ', 0, 'latin1');
    fmt.writeUInt32LE(16, 4);
    fmt.writeUInt16LE(formatTag, 8);
    fmt.writeUInt16LE(channels, 10);
    fmt.writeUInt32LE(sampleRate >>> 0, 12);
    fmt.writeUInt32LE((sampleRate * blockAlign) >>> 0, 16);
    fmt.writeUInt16LE(blockAlign & 0xffff, 20);
    fmt.writeUInt16LE(bits, 22);
    chunks.push(fmt);
  }
  if (fields.omit !== 'data') {
    const head = Buffer.alloc(8);
    head.write('data', 0, 'latin1');
    head.writeUInt32LE((fields.declaredDataBytes ?? data.length) >>> 0, 4);
    chunks.push(head, Buffer.from(data));
    if (data.length % 2 === 1) chunks.push(Buffer.alloc(1));
  }
  const body = Buffer.concat(chunks);
  const header = Buffer.alloc(12);
  header.write((fields.riff ?? 'RIFF').padEnd(4).slice(0, 4), 0, 'latin1');
  header.writeUInt32LE(4 + body.length, 4);
  header.write((fields.form ?? 'WAVE').padEnd(4).slice(0, 4), 8, 'latin1');
  return Buffer.concat([header, body]);
}

/** 16-bit PCM samples of a sine at `hz`, `seconds` long, `channels` interleaved. */
export function sinePcm16(seconds: number, sampleRate = 16000, hz = 440, channels = 1): Buffer {
  const frames = Math.round(seconds * sampleRate);
  const out = Buffer.alloc(frames * channels * 2);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / sampleRate));
    for (let c = 0; c < channels; c++) out.writeInt16LE(v, (i * channels + c) * 2);
  }
  return out;
}

/** 32-bit float samples, with `values` written first. */
export function float32Samples(values: number[], total: number): Buffer {
  const out = Buffer.alloc(total * 4);
  for (let i = 0; i < total; i++) out.writeFloatLE(i < values.length ? values[i] : 0.1 * Math.sin(i / 5), i * 4);
  return out;
}
