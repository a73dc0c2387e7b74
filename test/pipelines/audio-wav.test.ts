import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from 'wav-decoder';
import { BonsaiError } from '../../core/errors.ts';
import type { IngestLimits } from '../../pipelines/types.ts';
import { alawToLinear, decodeWav, downmix, encodeWav, mulawToLinear, parseWavHeader } from '../../pipelines/audio/index.ts';

const limits: IngestLimits = { maxFileBytes: 10_000_000, maxPixels: 1, maxAudioSeconds: 30, decodeTimeoutMs: 5000 };

/** A test signal in [-1, 1) that hits both extremes of every integer format. */
function signal(n: number, phase = 0): Float32Array {
  const x = new Float32Array(n).map((_, i) => 0.9 * Math.sin(i * 0.05 + phase));
  x[0] = -1;
  x[1] = 1;
  return x;
}

interface Chunk {
  id: string;
  body: Uint8Array;
  /** Size written in the chunk header (default: body length). */
  declared?: number;
}

/** Builds a RIFF file from chunks, with the pad byte after odd-sized bodies. */
function riff(chunks: Chunk[], form = 'WAVE', magic = 'RIFF'): Uint8Array {
  const parts: number[] = [];
  const ascii = (s: string): void => {
    for (const ch of s) parts.push(ch.charCodeAt(0));
  };
  const u32 = (v: number): void => {
    parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  };
  ascii(magic);
  u32(0);
  ascii(form);
  for (const c of chunks) {
    ascii(c.id);
    u32(c.declared ?? c.body.length);
    parts.push(...c.body);
    if (c.body.length % 2 === 1) parts.push(0);
  }
  const out = Uint8Array.from(parts);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

interface FmtFields {
  tag?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  align?: number;
}

function fmt({ tag = 1, channels = 1, rate = 8000, bits = 16, align }: FmtFields = {}): Chunk {
  const body = new Uint8Array(16);
  const v = new DataView(body.buffer);
  const blockAlign = align ?? (channels * bits) / 8;
  v.setUint16(0, tag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, rate * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, bits, true);
  return { id: 'fmt ', body };
}

function pcm16(samples: number[]): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  samples.forEach((s, i) => new DataView(out.buffer).setInt16(i * 2, s, true));
  return out;
}

function rejects(bytes: Uint8Array, code: string, ...mentions: string[]): void {
  assert.throws(
    () => decodeWav(bytes, limits),
    (e: unknown) => {
      assert.ok(e instanceof BonsaiError, `not a BonsaiError: ${String(e)}`);
      assert.equal(e.code, code, e.message);
      for (const m of mentions) assert.ok(e.message.includes(m), `message "${e.message}" does not mention ${m}`);
      return true;
    },
  );
}

test('round trips every accepted encoding within its quantisation step', () => {
  const x = signal(1000);
  const cases: Array<[string, Parameters<typeof encodeWav>[2], number]> = [
    ['pcm8', { bitDepth: 8 }, 1 / 128],
    ['pcm16', { bitDepth: 16 }, 1 / 32767],
    ['pcm24', { bitDepth: 24 }, 1 / 8388607],
    ['pcm32', { bitDepth: 32 }, 1e-7],
    ['float32', { bitDepth: 32, float: true }, 0],
    ['float64', { bitDepth: 64, float: true }, 0],
    ['extensible pcm16', { bitDepth: 16, extensible: true }, 1 / 32767],
    ['extensible pcm24', { bitDepth: 24, extensible: true }, 1 / 8388607],
    ['extensible float32', { bitDepth: 32, float: true, extensible: true }, 0],
  ];
  for (const [name, options, step] of cases) {
    const decoded = decodeWav(encodeWav([x, x.map((v) => -v)], 22050, options), limits);
    assert.equal(decoded.sampleRate, 22050, name);
    assert.equal(decoded.channels.length, 2, name);
    for (const [c, sign] of [[0, 1], [1, -1]]) {
      const ch = decoded.channels[c];
      assert.equal(ch.length, 1000, name);
      let err = 0;
      for (let i = 0; i < 1000; i++) err = Math.max(err, Math.abs(ch[i] - sign * x[i]));
      assert.ok(err <= step + 1e-7, `${name} channel ${c}: max error ${err} > ${step}`);
    }
  }
});

test('integer PCM scaling: 8-bit is unsigned around 128, wider PCM is divided by 2^(bits-1)', () => {
  const eight = riff([fmt({ bits: 8 }), { id: 'data', body: Uint8Array.from([0, 128, 255, 64]) }]);
  assert.deepEqual(Array.from(decodeWav(eight, limits).channels[0]), [-1, 0, 127 / 128, -0.5]);
  const sixteen = riff([fmt(), { id: 'data', body: pcm16([-32768, 0, 32767, 16384]) }]);
  assert.deepEqual(Array.from(decodeWav(sixteen, limits).channels[0]), [-1, 0, 32767 / 32768, 0.5].map(Math.fround));
  // 24 bits: the most negative value must come out as -1 (wav-decoder 1.3 returns +1 for it).
  const body = Uint8Array.from([0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff]);
  const file = riff([fmt({ bits: 24 }), { id: 'data', body }]);
  assert.deepEqual(Array.from(decodeWav(file, limits).channels[0]), [-1, 8388607 / 8388608, 0, -1 / 8388608].map(Math.fround));
  const canonical = new Uint8Array(file.length);
  canonical.set(file);
  assert.ok(decode.sync(canonical.buffer).channelData[0][0] > 0.999, 'wav-decoder no longer has its 24-bit sign bug; decoding 24 bits ourselves may be unnecessary');
});

test('encodeWav writes the canonical header that FSDD files have', () => {
  // The first 44 bytes of recordings/0_george_0.wav (mono, 16 bits, 8000 Hz, 0x12a0 data bytes).
  const expected = '52494646c4120000' + '57415645' + '666d7420100000000100010040' + '1f0000803e000002001000' + '64617461a0120000';
  const mono = encodeWav(new Float32Array(0x12a0 / 2), 8000);
  assert.equal(Buffer.from(mono.subarray(0, 44)).toString('hex'), expected);
  assert.equal(mono.length, 44 + 0x12a0);
});

test('accepts a Node Buffer that is a slice of a larger pool, and skips odd-sized chunks with their pad byte', () => {
  const x = signal(300);
  const file = encodeWav(x, 8000);
  const pool = Buffer.alloc(file.length + 17);
  pool.set(file, 9);
  const slice = pool.subarray(9, 9 + file.length);
  assert.notEqual(slice.byteOffset % 8, 0);
  const decoded = decodeWav(slice, limits);
  assert.ok(Math.abs(decoded.channels[0][2] - x[2]) < 1e-4);

  const data = { id: 'data', body: pcm16([100, -200, 300]) };
  const odd = { id: 'LIST', body: Uint8Array.from([1, 2, 3, 4, 5]) }; // 5 bytes + pad byte
  for (const chunks of [[fmt(), odd, data], [odd, fmt(), data], [data, fmt()], [fmt(), data, odd]]) {
    const out = decodeWav(riff(chunks), limits).channels[0];
    assert.deepEqual(Array.from(out), [100 / 32768, -200 / 32768, 300 / 32768].map(Math.fround), chunks.map((c) => c.id).join(','));
  }
  // Trailing junk after complete fmt and data chunks is ignored.
  const junk = riff([fmt(), data, { id: 'junk', body: new Uint8Array(4), declared: 1_000_000 }]);
  assert.equal(decodeWav(junk, limits).channels[0].length, 3);
});

test('rejects what is not a RIFF WAVE file', () => {
  rejects(new Uint8Array(0), 'BONSAI_INGEST_WAV_NOT_RIFF', '0 bytes');
  rejects(Uint8Array.from([0x52, 0x49, 0x46, 0x46, 0, 0]), 'BONSAI_INGEST_WAV_NOT_RIFF', '6 bytes');
  rejects(new TextEncoder().encode('ID3\u0004 this is an mp3 file, not a wav file'), 'BONSAI_INGEST_WAV_NOT_RIFF', 'ID3');
  rejects(riff([fmt()], 'WAVE', 'RIFX'), 'BONSAI_INGEST_WAV_NOT_RIFF', 'RIFX');
  rejects(riff([fmt()], 'WAVE', 'RF64'), 'BONSAI_INGEST_WAV_NOT_RIFF', 'RF64');
  rejects(riff([], 'AVI '), 'BONSAI_INGEST_WAV_NOT_WAVE', 'AVI ');
});

test('rejects broken chunk structure', () => {
  const data = { id: 'data', body: pcm16([1, 2, 3]) };
  rejects(riff([{ id: 'LIST', body: new Uint8Array(8), declared: 0xfffffff0 }, fmt(), data]), 'BONSAI_INGEST_WAV_BAD_CHUNK', 'LIST', '4294967280');
  rejects(riff([data]), 'BONSAI_INGEST_WAV_NO_FMT');
  rejects(riff([fmt()]), 'BONSAI_INGEST_WAV_NO_DATA');
  rejects(riff([{ id: 'fmt ', body: new Uint8Array(14) }, data]), 'BONSAI_INGEST_WAV_BAD_FMT', '14');
  const shortExt = fmt({ tag: 0xfffe });
  rejects(riff([shortExt, data]), 'BONSAI_INGEST_WAV_BAD_FMT', '16 bytes');
  rejects(riff([{ ...fmt(), declared: 1000 }, data]), 'BONSAI_INGEST_WAV_BAD_CHUNK', '1000');
});

test('rejects compressed and non-PCM encodings by name', () => {
  const data = { id: 'data', body: new Uint8Array(64) };
  rejects(riff([fmt({ tag: 0x31, bits: 8 }), data]), 'BONSAI_INGEST_WAV_COMPRESSED', 'GSM 6.10', '0x0031', 'A-law (6) and mu-law (7)');
  rejects(riff([fmt({ tag: 2, bits: 4, align: 256 }), data]), 'BONSAI_INGEST_WAV_COMPRESSED', 'ADPCM');
  rejects(riff([fmt({ tag: 0x11, bits: 4, align: 256 }), data]), 'BONSAI_INGEST_WAV_COMPRESSED', 'IMA ADPCM');
  rejects(riff([fmt({ tag: 0x55, bits: 0, align: 1 }), data]), 'BONSAI_INGEST_WAV_COMPRESSED', 'MP3', '0x0055');
  rejects(riff([fmt({ tag: 0x1234 }), data]), 'BONSAI_INGEST_WAV_COMPRESSED', '0x1234');
  // WAVE_FORMAT_EXTENSIBLE whose subformat is MP3, and one with a foreign GUID.
  const ext = encodeWav(new Float32Array(8), 8000, { bitDepth: 16, extensible: true });
  const mp3 = ext.slice();
  new DataView(mp3.buffer).setUint16(44, 0x55, true);
  rejects(mp3, 'BONSAI_INGEST_WAV_COMPRESSED', 'MP3', 'EXTENSIBLE');
  const foreign = ext.slice();
  foreign[50] = 0x42;
  rejects(foreign, 'BONSAI_INGEST_WAV_COMPRESSED', 'GUID');
});

/** G.711 mu-law encoding of a 16-bit value, as the standard's reference coder does it (bias 0x84, clip 32635). */
function linearToMulaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  let v = Math.min(Math.abs(sample), 32635) + 0x84;
  let segment = 7;
  for (let mask = 0x4000; (v & mask) === 0 && segment > 0; segment--, mask >>= 1);
  v = (v >> (segment + 3)) & 0x0f;
  return ~(sign | (segment << 4) | v) & 0xff;
}

test('G.711 mu-law and A-law: the standard\'s end points, symmetry and order, and a tone within its quantisation step', () => {
  assert.deepEqual([0xff, 0x7f, 0x00, 0x80, 0x8f].map(mulawToLinear), [0, 0, -32124, 32124, 16764]);
  assert.deepEqual([0xd5, 0x55, 0xaa, 0x2a].map(alawToLinear), [8, -8, 32256, -32256]);
  for (let b = 0; b < 256; b++) {
    assert.equal(mulawToLinear(b), -mulawToLinear(b ^ 0x80) || 0, `mu-law ${b}`);
    assert.equal(alawToLinear(b), -alawToLinear(b ^ 0x80), `A-law ${b}`);
  }
  // Positive mu-law codes 0x80..0xFF run from the largest value down to zero.
  for (let b = 0x80; b < 0xff; b++) assert.ok(mulawToLinear(b) > mulawToLinear(b + 1), `mu-law ${b}`);
  // Encoded by the reference coder and read back as a WAV (tag 7, and as WAVE_FORMAT_EXTENSIBLE): within mu-law's step (1/16 of the value, plus 4 near zero).
  const x = signal(800).map((v) => Math.round(v * 30000));
  const body = Uint8Array.from(x, linearToMulaw);
  const decoded = decodeWav(riff([fmt({ tag: 7, bits: 8 }), { id: 'data', body }]), limits).channels[0];
  x.forEach((v, i) => assert.ok(Math.abs(decoded[i] * 32768 - v) <= Math.abs(v) / 16 + 4, `sample ${i}: ${v} read as ${decoded[i] * 32768}`));
  assert.equal(parseWavHeader(riff([fmt({ tag: 7, bits: 8 }), { id: 'data', body }]), limits).encoding, 'mulaw');
  const alaw = decodeWav(riff([fmt({ tag: 6, bits: 8, channels: 2 }), { id: 'data', body: Uint8Array.from([0xd5, 0x55, 0xaa, 0x2a]) }]), limits);
  assert.deepEqual(alaw.channels.map((c) => Array.from(c, (v) => v * 32768)), [[8, 32256], [-8, -32256]]);
  // 16-bit mu-law is not a thing: the bit depth is refused with the values.
  rejects(riff([fmt({ tag: 7, bits: 16 }), { id: 'data', body: new Uint8Array(64) }]), 'BONSAI_INGEST_WAV_BIT_DEPTH', 'mulaw', '16', 'accepts 8');
});

test('rejects unsupported bit depths, channel counts, sample rates and block aligns with the values', () => {
  const data = { id: 'data', body: new Uint8Array(64) };
  rejects(riff([fmt({ bits: 12, align: 2 }), data]), 'BONSAI_INGEST_WAV_BIT_DEPTH', '12');
  rejects(riff([fmt({ tag: 3, bits: 16 }), data]), 'BONSAI_INGEST_WAV_BIT_DEPTH', 'float', '16');
  rejects(riff([fmt({ channels: 0, align: 2 }), data]), 'BONSAI_INGEST_WAV_CHANNELS', '0 channels');
  rejects(riff([fmt({ channels: 9 }), data]), 'BONSAI_INGEST_WAV_CHANNELS', '9 channels');
  rejects(riff([fmt({ channels: 65535, align: 2 }), data]), 'BONSAI_INGEST_WAV_CHANNELS', '65535');
  rejects(riff([fmt({ rate: 3999 }), data]), 'BONSAI_INGEST_WAV_SAMPLE_RATE', '3999');
  rejects(riff([fmt({ rate: 192001 }), data]), 'BONSAI_INGEST_WAV_SAMPLE_RATE', '192001');
  rejects(riff([fmt({ rate: 0 }), data]), 'BONSAI_INGEST_WAV_SAMPLE_RATE', '0 Hz');
  rejects(riff([fmt({ channels: 2, align: 2 }), data]), 'BONSAI_INGEST_WAV_BLOCK_ALIGN', '2 bytes', '4');
  rejects(riff([fmt({ align: 0 }), data]), 'BONSAI_INGEST_WAV_BLOCK_ALIGN', '0 bytes');
  // The edges themselves are accepted.
  for (const rate of [4000, 192000]) assert.equal(decodeWav(riff([fmt({ rate }), { id: 'data', body: pcm16([1, 2]) }]), limits).sampleRate, rate);
});

test('7 and 8 channels are accepted and downmixed to their mean', () => {
  for (const n of [7, 8]) {
    const channels = Array.from({ length: n }, (_, c) => signal(400, c).map((v) => v * 0.5));
    const decoded = decodeWav(encodeWav(channels, 48000, { bitDepth: 32, float: true }), limits);
    assert.equal(decoded.channels.length, n);
    const mono = downmix(decoded.channels);
    for (const i of [0, 1, 17, 399]) {
      const mean = channels.reduce((s, ch) => s + ch[i], 0) / n;
      assert.ok(Math.abs(mono[i] - mean) < 1e-6, `${n} channels, sample ${i}`);
    }
  }
  const one = new Float32Array([1, 2]);
  assert.equal(downmix([one]), one);
  assert.throws(() => downmix([]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_DOWNMIX');
  assert.throws(() => downmix([one, new Float32Array(3)]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_DOWNMIX' && e.message.includes('2, 3'));
});

test('empty, truncated and over-long data chunks are rejected before decoding', () => {
  rejects(riff([fmt(), { id: 'data', body: new Uint8Array(0) }]), 'BONSAI_INGEST_WAV_EMPTY', '0 bytes');
  rejects(riff([fmt({ channels: 2 }), { id: 'data', body: new Uint8Array(3) }]), 'BONSAI_INGEST_WAV_EMPTY', '3 bytes', '4-byte');
  // The "10-hour header": a 60-byte file whose data chunk claims 10 hours at 8 kHz, 16 bits.
  const tenHours = 10 * 3600 * 8000 * 2;
  const hostile = riff([fmt(), { id: 'data', body: pcm16([1, 2, 3, 4]), declared: tenHours }]);
  rejects(hostile, 'BONSAI_INGEST_AUDIO_TOO_LONG', '36000.00 s', '30 s');
  // The header check alone (no decoding) rejects it, and the duration comes before the truncation check.
  assert.throws(() => parseWavHeader(hostile, limits), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_TOO_LONG');
  // A header within the limit that declares more bytes than the file holds.
  rejects(riff([fmt(), { id: 'data', body: pcm16([1, 2, 3, 4]), declared: 16000 }]), 'BONSAI_INGEST_WAV_TRUNCATED', '16000', 'only 8');
  // A file cut in the middle of its samples (the writer stopped early).
  const full = encodeWav(signal(8000), 8000);
  rejects(full.subarray(0, 5000), 'BONSAI_INGEST_WAV_TRUNCATED', '16000', '4956');
  // An odd trailing byte (a partial sample frame) is ignored.
  const partial = riff([fmt(), { id: 'data', body: Uint8Array.from([1, 0, 2, 0, 3]) }]);
  assert.deepEqual(Array.from(decodeWav(partial, limits).channels[0]), [1 / 32768, 2 / 32768].map(Math.fround));
  // Header limits: duration exactly at the limit passes; the file size limit comes first.
  const atLimit = encodeWav(new Float32Array(4000 * 30), 4000);
  assert.equal(parseWavHeader(atLimit, limits).durationSeconds, 30);
  assert.throws(
    () => parseWavHeader(atLimit, { ...limits, maxFileBytes: 1000 }),
    (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_FILE_TOO_LARGE' && e.message.includes('240044') && e.message.includes('1000'),
  );
});

test('a data size a writer to a pipe leaves (0xFFFFFFFF, or 0 with audio after it) runs to the end of the file', () => {
  const samples = [100, -200, 300, -400, 500];
  const expected = samples.map((v) => Math.fround(v / 32768));
  for (const declared of [0xffffffff, 0]) {
    const streamed = riff([fmt(), { id: 'data', body: pcm16(samples), declared }]);
    const header = parseWavHeader(streamed, limits);
    assert.equal(header.frames, 5, `declared ${declared}`);
    assert.deepEqual(Array.from(decodeWav(streamed, limits).channels[0]), expected);
  }
  // Before, 0xFFFFFFFF on a 1 s file read as 268435 s (AUDIO_TOO_LONG): now its real length is checked.
  const second = riff([fmt(), { id: 'data', body: pcm16(Array.from({ length: 8000 }, (_, i) => (i % 50) - 25)), declared: 0xffffffff }]);
  assert.equal(parseWavHeader(second, limits).durationSeconds, 1);
  assert.throws(() => parseWavHeader(second, { ...limits, maxAudioSeconds: 0.5 }), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_TOO_LONG' && e.message.includes('1.00 s'));
  // A real empty data chunk followed by another chunk keeps its size of 0; so does one at the very end.
  rejects(riff([fmt(), { id: 'data', body: new Uint8Array(0) }, { id: 'LIST', body: new TextEncoder().encode('INFOname') }]), 'BONSAI_INGEST_WAV_EMPTY', '0 bytes');
  rejects(riff([fmt(), { id: 'data', body: new Uint8Array(0) }]), 'BONSAI_INGEST_WAV_EMPTY', '0 bytes');
  // Any other size beyond the file is truncation, as before.
  rejects(riff([fmt(), { id: 'data', body: pcm16(samples), declared: 0xfffffffe }]), 'BONSAI_INGEST_AUDIO_TOO_LONG');
});

test('NaN, infinite and absurdly large float samples are rejected', () => {
  for (const bits of [32, 64] as const) {
    for (const [bad, code, mention] of [
      [Number.NaN, 'BONSAI_INGEST_WAV_NON_FINITE', 'NaN'],
      [Number.POSITIVE_INFINITY, 'BONSAI_INGEST_WAV_NON_FINITE', 'Infinity'],
      [Number.NEGATIVE_INFINITY, 'BONSAI_INGEST_WAV_NON_FINITE', '-Infinity'],
      [1e30, 'BONSAI_INGEST_WAV_SAMPLE_RANGE', 'e+30'],
    ] as const) {
      const x = signal(100);
      const file = encodeWav([x, x], 8000, { bitDepth: bits, float: true });
      // Write the bad value into sample 37 of channel 1 and sample 40 of channel 1.
      const view = new DataView(file.buffer);
      for (const i of [37, 40]) {
        const offset = 44 + (i * 2 + 1) * (bits / 8);
        if (bits === 32) view.setFloat32(offset, bad, true);
        else view.setFloat64(offset, bad, true);
      }
      rejects(file, code, mention, 'sample 37', 'channel 1', '2 such samples');
    }
  }
  // Floats on an integer scale (up to 2^24) are accepted.
  const scaled = encodeWav(signal(50).map((v) => v * 32768), 8000, { bitDepth: 32, float: true });
  assert.ok(Math.abs(decodeWav(scaled, limits).channels[0][0] + 32768) < 1e-3);
});
