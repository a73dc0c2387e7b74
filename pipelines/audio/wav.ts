/**
 * WAV (RIFF WAVE) validation and decoding.
 *
 * The header is validated here, in full, before any sample is decoded: the
 * decoder (`wav-decoder`) trusts the header and would allocate whatever it
 * declares. Layout: Microsoft/IBM "Multimedia Programming Interface and Data
 * Specifications 1.0" (1991), and "Multiple Channel Audio Data and WAVE Files"
 * (WAVE_FORMAT_EXTENSIBLE, Microsoft, 2007).
 *
 * Policy (see docs/errors-ingest-audio.md for the codes):
 * - encodings: PCM (tag 1: 8, 16, 24, 32 bits), IEEE float (tag 3: 32, 64 bits),
 *   G.711 mu-law (tag 7) and A-law (tag 6) at 8 bits (telephone recordings), or
 *   WAVE_FORMAT_EXTENSIBLE (0xFFFE) with one of those as subformat; everything
 *   else (ADPCM, GSM, MP3, ...) is rejected;
 * - 1 to 8 channels (7 and 8 included: they are downmixed like any other);
 * - sample rates from 4000 to 192000 Hz;
 * - a data chunk that declares more bytes than the file holds is rejected as
 *   truncated, never clamped: a cut-off recording may no longer match its label;
 * - except a data size of 0xFFFFFFFF, or of 0 with audio after it, which writers to
 *   a pipe (arecord, ffmpeg, sox) leave because they cannot seek back to fill it in:
 *   such a data chunk runs to the end of the file, as those tools read it;
 * - the duration is computed from the header and checked against
 *   `limits.maxAudioSeconds` before anything is allocated or decoded;
 * - the RIFF size field and the byte rate are not trusted and not checked (many
 *   writers get them wrong); chunks are walked by their own sizes (with the pad
 *   byte after odd sizes), and unknown chunks are skipped;
 * - a partial sample frame at the end of the data chunk is ignored.
 */
import { decode } from 'wav-decoder';
import { BonsaiError } from '../../core/errors.ts';
import type { IngestLimits } from '../types.ts';
import { AudioErrorCode } from './codes.ts';

/** Lowest accepted sample rate in Hz. */
export const MIN_SAMPLE_RATE = 4000;
/** Highest accepted sample rate in Hz. */
export const MAX_SAMPLE_RATE = 192000;
/** Most channels accepted (7.1 surround). */
export const MAX_CHANNELS = 8;
/**
 * Largest accepted float sample magnitude: 2^24, so floats written on an
 * integer scale (some editors store 16- or 24-bit ranges in float files) pass,
 * while garbage bytes read as floats (1e30 and the like) do not.
 */
export const MAX_FLOAT_MAGNITUDE = 2 ** 24;

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_ALAW = 0x0006;
const FORMAT_MULAW = 0x0007;
const FORMAT_EXTENSIBLE = 0xfffe;

/** How the samples are stored: signed integers (unsigned at 8 bits), IEEE floats, or G.711 companded bytes. */
export type WavEncoding = 'pcm' | 'float' | 'alaw' | 'mulaw';

/** The sample encodings accepted, by format tag (or extensible subformat). */
const ENCODINGS: ReadonlyMap<number, WavEncoding> = new Map([[FORMAT_PCM, 'pcm'], [FORMAT_FLOAT, 'float'], [FORMAT_ALAW, 'alaw'], [FORMAT_MULAW, 'mulaw']]);

/** Bits per sample accepted for each encoding. */
const BIT_DEPTHS: Readonly<Record<WavEncoding, readonly number[]>> = { pcm: [8, 16, 24, 32], float: [32, 64], alaw: [8], mulaw: [8] };

/** Names of common non-PCM format tags, for messages. */
const FORMAT_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0000, 'unknown'],
  [0x0002, 'Microsoft ADPCM'],
  [0x0006, 'A-law'],
  [0x0007, 'mu-law'],
  [0x0011, 'IMA ADPCM'],
  [0x0031, 'GSM 6.10'],
  [0x0040, 'G.721 ADPCM'],
  [0x0050, 'MPEG'],
  [0x0055, 'MPEG Layer 3 (MP3)'],
  [0x00ff, 'AAC'],
  [0x0160, 'Windows Media Audio'],
  [0x0161, 'Windows Media Audio'],
  [0x2000, 'AC-3'],
  [0xf1ac, 'FLAC'],
]);

/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID derived from a format tag. */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** A validated WAV header: what the file holds and where the samples are. */
export interface WavHeader {
  /** `pcm` (signed integers; unsigned for 8 bits), IEEE `float`, or G.711 `mulaw` / `alaw`. */
  encoding: WavEncoding;
  /** Format tag as written (1, 3, 6, 7 or 0xFFFE). */
  formatTag: number;
  /** Number of interleaved channels (1..8). */
  channels: number;
  /** Samples per second per channel. */
  sampleRate: number;
  /** Container bits per sample (8, 16, 24, 32 or 64). */
  bitsPerSample: number;
  /** Bytes per sample frame (all channels). */
  blockAlign: number;
  /** Byte offset of the first sample in the file. */
  dataOffset: number;
  /** Number of complete sample frames in the data chunk. */
  frames: number;
  /** frames / sampleRate. */
  durationSeconds: number;
}

/** Decoded audio: one Float32Array per channel, nominally in [-1, 1]. */
export interface DecodedAudio {
  /** Samples per second per channel. */
  sampleRate: number;
  /** One array per channel, all of the same length. */
  channels: Float32Array[];
}

function fourCC(view: DataView, offset: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) s += String.fromCharCode(view.getUint8(offset + i));
  return s;
}

/** A fourCC as readable text for messages (non-printable bytes as \xNN). */
function printable(id: string): string {
  return JSON.stringify(id.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function hex(tag: number): string {
  return `0x${tag.toString(16).padStart(4, '0')}`;
}

interface FmtChunk {
  encoding: WavEncoding;
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
}

function parseFmt(view: DataView, offset: number, size: number): FmtChunk {
  if (size < 16) {
    throw new BonsaiError(AudioErrorCode.BAD_FMT, `WAV fmt chunk is ${size} bytes; at least 16 are required`, { fmtBytes: size });
  }
  const formatTag = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);
  let code = formatTag;
  if (formatTag === FORMAT_EXTENSIBLE) {
    const cbSize = size >= 18 ? view.getUint16(offset + 16, true) : 0;
    if (size < 40 || cbSize < 22) {
      throw new BonsaiError(
        AudioErrorCode.BAD_FMT,
        `WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes with cbSize ${cbSize}; 40 bytes and cbSize 22 are required`,
        { fmtBytes: size, cbSize },
      );
    }
    code = view.getUint16(offset + 24, true);
    const tailMatches = SUBFORMAT_GUID_TAIL.every((b, i) => view.getUint8(offset + 26 + i) === b);
    if (!tailMatches) {
      throw new BonsaiError(
        AudioErrorCode.COMPRESSED,
        `WAVE_FORMAT_EXTENSIBLE subformat is not a standard PCM, IEEE float, mu-law or A-law GUID (first two bytes ${hex(code)})`,
        { formatTag: hex(formatTag), subformat: hex(code) },
      );
    }
  }
  const encoding = ENCODINGS.get(code);
  if (encoding === undefined) {
    const name = FORMAT_NAMES.get(code) ?? 'a non-PCM encoding';
    const where = formatTag === FORMAT_EXTENSIBLE ? `WAVE_FORMAT_EXTENSIBLE subformat ${hex(code)}` : `format tag ${hex(code)}`;
    throw new BonsaiError(
      AudioErrorCode.COMPRESSED,
      `WAV ${where} is ${name}; accepted are PCM (1), IEEE float (3), A-law (6) and mu-law (7)`,
      { formatTag: hex(formatTag), encoding: hex(code), name },
    );
  }
  if (channels < 1 || channels > MAX_CHANNELS) {
    throw new BonsaiError(AudioErrorCode.CHANNELS, `WAV declares ${channels} channels; 1 to ${MAX_CHANNELS} are accepted`, { channels });
  }
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new BonsaiError(
      AudioErrorCode.SAMPLE_RATE,
      `WAV sample rate ${sampleRate} Hz is outside [${MIN_SAMPLE_RATE}, ${MAX_SAMPLE_RATE}] Hz`,
      { sampleRate },
    );
  }
  const allowed = BIT_DEPTHS[encoding];
  if (!allowed.includes(bitsPerSample)) {
    throw new BonsaiError(
      AudioErrorCode.BIT_DEPTH,
      `WAV ${encoding} with ${bitsPerSample} bits per sample is not supported; ${encoding} accepts ${allowed.join(', ')}`,
      { encoding, bitsPerSample },
    );
  }
  const expectedAlign = channels * (bitsPerSample / 8);
  if (blockAlign !== expectedAlign) {
    throw new BonsaiError(
      AudioErrorCode.BLOCK_ALIGN,
      `WAV block align is ${blockAlign} bytes; ${channels} channels of ${bitsPerSample} bits need ${expectedAlign}`,
      { blockAlign, expected: expectedAlign, channels, bitsPerSample },
    );
  }
  return { encoding, formatTag, channels, sampleRate, bitsPerSample, blockAlign };
}

/** The data size a writer that cannot seek leaves in place of the real one. */
const STREAMING_DATA_SIZE = 0xffffffff;

/**
 * True when a data chunk's size is a placeholder (see the file comment): 0xFFFFFFFF, or 0
 * followed by bytes that are not a chunk header (an empty data chunk followed by, say,
 * a LIST chunk keeps its size of 0).
 */
function sizeUnknown(view: DataView, size: number, body: number, available: number): boolean {
  if (size === STREAMING_DATA_SIZE) return true;
  if (size !== 0 || available === 0) return false;
  if (available < 8) return true;
  for (let i = 0; i < 4; i++) {
    const c = view.getUint8(body + i);
    if (c < 0x20 || c > 0x7e) return true;
  }
  return view.getUint32(body + 4, true) > available - 8;
}

/** Where the chunks are: the first fmt chunk, and the data chunk's offset, declared size and bytes present (offset -1: none). */
interface ChunkWalk {
  fmt: FmtChunk | undefined;
  dataOffset: number;
  dataDeclared: number;
  dataAvailable: number;
}

/** Walks the chunks after the 12-byte RIFF header by their own sizes (see the file comment). */
function walkChunks(view: DataView, length: number): ChunkWalk {
  let fmt: FmtChunk | undefined;
  let dataOffset = -1;
  let dataDeclared = 0;
  let dataAvailable = 0;
  let offset = 12;
  while (offset + 8 <= length) {
    const id = fourCC(view, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    const available = length - body;
    if (id === 'data' && dataOffset < 0) {
      dataOffset = body;
      if (sizeUnknown(view, size, body, available)) {
        // A streaming writer's placeholder: the audio is whatever follows, to the end of the file.
        dataDeclared = available;
        dataAvailable = available;
        break;
      }
      dataDeclared = size;
      dataAvailable = Math.min(size, available);
      if (size > available) break; // truncated data: nothing after it can be trusted
    } else if (size > available) {
      if (fmt !== undefined && dataOffset >= 0) break; // trailing junk after complete fmt and data
      throw new BonsaiError(
        AudioErrorCode.BAD_CHUNK,
        `WAV chunk ${printable(id)} at byte ${offset} declares ${size} bytes but only ${available} remain`,
        { chunk: id, offset, declared: size, available },
      );
    } else if (id === 'fmt ' && fmt === undefined) {
      fmt = parseFmt(view, body, size);
    }
    offset = body + size + (size & 1);
  }
  return { fmt, dataOffset, dataDeclared, dataAvailable };
}

/**
 * Validates a WAV file's header against the pipeline's policy and `limits`
 * without decoding a sample. Throws a `BonsaiError` (BONSAI_INGEST_*) naming
 * the first problem found, with the actual values.
 */
export function parseWavHeader(bytes: Uint8Array, limits: Pick<IngestLimits, 'maxFileBytes' | 'maxAudioSeconds'>): WavHeader {
  if (bytes.byteLength > limits.maxFileBytes) {
    throw new BonsaiError(
      AudioErrorCode.FILE_TOO_LARGE,
      `audio file is ${bytes.byteLength} bytes; the limit is ${limits.maxFileBytes}`,
      { bytes: bytes.byteLength, maxFileBytes: limits.maxFileBytes },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = bytes.byteLength;
  const magic = length >= 4 ? fourCC(view, 0) : '';
  if (length < 12 || magic !== 'RIFF') {
    const why = length < 12 ? `is ${length} bytes, shorter than the 12-byte RIFF header` : `starts with ${printable(magic)}`;
    throw new BonsaiError(AudioErrorCode.NOT_RIFF, `not a RIFF WAV file: the file ${why}`, { bytes: length, magic });
  }
  const form = fourCC(view, 8);
  if (form !== 'WAVE') {
    throw new BonsaiError(AudioErrorCode.NOT_WAVE, `RIFF form type is ${printable(form)}, not "WAVE"`, { form });
  }

  const { fmt, dataOffset, dataDeclared, dataAvailable } = walkChunks(view, length);
  if (fmt === undefined) {
    throw new BonsaiError(AudioErrorCode.NO_FMT, `WAV file has no fmt chunk (${length} bytes walked)`, { bytes: length });
  }
  if (dataOffset < 0) {
    throw new BonsaiError(AudioErrorCode.NO_DATA, `WAV file has no data chunk (${length} bytes walked)`, { bytes: length });
  }
  const frames = Math.floor(dataDeclared / fmt.blockAlign);
  if (frames === 0) {
    throw new BonsaiError(
      AudioErrorCode.EMPTY,
      `WAV data chunk holds ${dataDeclared} bytes, less than one ${fmt.blockAlign}-byte sample frame`,
      { dataBytes: dataDeclared, blockAlign: fmt.blockAlign },
    );
  }
  const durationSeconds = frames / fmt.sampleRate;
  if (durationSeconds > limits.maxAudioSeconds) {
    throw new BonsaiError(
      AudioErrorCode.TOO_LONG,
      `WAV header declares ${durationSeconds.toFixed(2)} s of audio (${frames} frames at ${fmt.sampleRate} Hz); the limit is ${limits.maxAudioSeconds} s`,
      { durationSeconds, frames, sampleRate: fmt.sampleRate, maxAudioSeconds: limits.maxAudioSeconds },
    );
  }
  if (dataDeclared > dataAvailable) {
    throw new BonsaiError(
      AudioErrorCode.TRUNCATED,
      `WAV data chunk declares ${dataDeclared} bytes but the file holds only ${dataAvailable} of them (file is ${length} bytes)`,
      { declared: dataDeclared, available: dataAvailable, bytes: length },
    );
  }
  return { ...fmt, dataOffset, frames, durationSeconds };
}

/**
 * Decodes 24-bit (signed) PCM, scaled by 2^23. wav-decoder 1.3 is not used for it: it maps
 * the most negative 24-bit value to +1.
 */
function decodePcm24(bytes: Uint8Array, header: WavHeader): Float32Array[] {
  const { channels, frames, dataOffset } = header;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const u8 = bytes.subarray(dataOffset, dataOffset + frames * header.blockAlign);
  let p = 0;
  const scale = 1 / 8388608;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      out[c][i] = (((u8[p] | (u8[p + 1] << 8) | (u8[p + 2] << 16)) << 8) >> 8) * scale; // sign-extend 24 bits
      p += 3;
    }
  }
  return out;
}

/**
 * One G.711 mu-law byte as a 16-bit linear value, in [-32124, 32124]: the inverse of the
 * companding of ITU-T G.711 (byte stored inverted; sign, 3-bit segment, 4-bit step), as its
 * reference decoder computes it.
 */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84;
  return u & 0x80 ? 0 - magnitude : magnitude; // 0 - 0 is +0: both zero codes read as 0
}

/**
 * One G.711 A-law byte as a 16-bit linear value, in [-32256, 32256]: the inverse of the
 * companding of ITU-T G.711 (even bits inverted; sign bit set for positive values; segment 0
 * linear), as its reference decoder computes it.
 */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const step = a & 0x0f;
  const segment = (a >> 4) & 0x07;
  const magnitude = segment === 0 ? (step << 4) + 8 : ((step << 4) + 0x108) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

/**
 * The value of each byte of a one-byte encoding: 8-bit PCM (unsigned, 128 is zero, scaled by
 * 2^7; wav-decoder 1.3 is not used for it: it scales positive values by 1/127 but negative ones
 * by 1/128), and G.711 mu-law and A-law expanded to 16 bits and scaled by 2^15.
 */
function byteTable(encoding: WavEncoding): Float32Array {
  if (encoding === 'pcm') return Float32Array.from({ length: 256 }, (_, b) => (b - 128) / 128);
  const expand = encoding === 'mulaw' ? mulawToLinear : alawToLinear;
  return Float32Array.from({ length: 256 }, (_, b) => expand(b) / 32768);
}

/** Decodes a one-byte encoding (8-bit PCM, mu-law, A-law) through its 256-entry table. */
function decodeBytes(bytes: Uint8Array, header: WavHeader): Float32Array[] {
  const table = byteTable(header.encoding);
  const { channels, frames, dataOffset } = header;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const u8 = bytes.subarray(dataOffset, dataOffset + frames * header.blockAlign);
  let p = 0;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) out[c][i] = table[u8[p++]];
  }
  return out;
}

/** A canonical 44-byte-header copy of the validated samples, the only form handed to wav-decoder. */
function canonicalWav(bytes: Uint8Array, header: WavHeader): ArrayBuffer {
  const dataBytes = header.frames * header.blockAlign;
  const out = new Uint8Array(44 + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[offset + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, header.encoding === 'float' ? FORMAT_FLOAT : FORMAT_PCM, true);
  view.setUint16(22, header.channels, true);
  view.setUint32(24, header.sampleRate, true);
  view.setUint32(28, header.sampleRate * header.blockAlign, true);
  view.setUint16(32, header.blockAlign, true);
  view.setUint16(34, header.bitsPerSample, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  out.set(bytes.subarray(header.dataOffset, header.dataOffset + dataBytes), 44);
  return out.buffer;
}

function checkFloats(channels: Float32Array[]): void {
  for (let c = 0; c < channels.length; c++) {
    const x = channels[c];
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (!(Math.abs(v) <= MAX_FLOAT_MAGNITUDE)) {
        const code = Number.isFinite(v) ? AudioErrorCode.SAMPLE_RANGE : AudioErrorCode.NON_FINITE;
        let count = 0;
        for (let k = i; k < x.length; k++) if (!(Math.abs(x[k]) <= MAX_FLOAT_MAGNITUDE)) count++;
        const what = Number.isFinite(v) ? `beyond +-${MAX_FLOAT_MAGNITUDE}` : 'NaN or infinite';
        throw new BonsaiError(
          code,
          `WAV float sample ${i} of channel ${c} is ${v} (${what}); ${count} such samples from there on in this channel`,
          { channel: c, index: i, value: String(v), count, maxMagnitude: MAX_FLOAT_MAGNITUDE },
        );
      }
    }
  }
}

/**
 * Validates (see `parseWavHeader`) and decodes a WAV file. Integer PCM is
 * scaled by 2^(bits-1) (8-bit: unsigned, 128 is zero); G.711 mu-law and A-law
 * are expanded to 16-bit values and scaled by 2^15; float samples are kept
 * as written and must be finite with magnitude at most 2^24.
 *
 * 16- and 32-bit PCM and float are decoded by `wav-decoder`, on a canonical
 * copy of the validated samples (a 44-byte header it cannot misread); 8-bit PCM,
 * mu-law, A-law and 24-bit PCM are decoded here.
 */
export function decodeWav(bytes: Uint8Array, limits: Pick<IngestLimits, 'maxFileBytes' | 'maxAudioSeconds'>): DecodedAudio {
  const header = parseWavHeader(bytes, limits);
  let channels: Float32Array[];
  if (header.bitsPerSample === 8) {
    channels = decodeBytes(bytes, header);
  } else if (header.encoding === 'pcm' && header.bitsPerSample === 24) {
    channels = decodePcm24(bytes, header);
  } else {
    try {
      // 16- and 32-bit PCM scaled by 2^(bits-1) for both signs; floats as written.
      const decoded = decode.sync(canonicalWav(bytes, header), { symmetric: true });
      channels = decoded.channelData;
    } catch (cause) {
      throw new BonsaiError(
        AudioErrorCode.DECODE,
        `wav-decoder failed on a validated ${header.encoding} ${header.bitsPerSample}-bit file: ${cause instanceof Error ? cause.message : String(cause)}`,
        { encoding: header.encoding, bitsPerSample: header.bitsPerSample },
        { cause },
      );
    }
    if (channels.length !== header.channels || channels.some((c) => c.length !== header.frames)) {
      throw new BonsaiError(
        AudioErrorCode.DECODE,
        `wav-decoder returned ${channels.length} channels of ${channels[0]?.length ?? 0} samples; the header declares ${header.channels} of ${header.frames}`,
        { channels: channels.length, expectedChannels: header.channels, expectedFrames: header.frames },
      );
    }
  }
  if (header.encoding === 'float') checkFloats(channels);
  return { sampleRate: header.sampleRate, channels };
}
