import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { AudioSpec } from '../../pipelines/types.ts';
import {
  LOG_FLOOR, RealFft, appendDeltas, defaultAudioSpec, frameCount, frameGeometry, hzToMel, logMelSpectrogram, melFilterbank,
  melToHz, melWeight, mfcc, normalizeColumns,
} from '../../pipelines/audio/index.ts';

interface ReferenceCase {
  name: string;
  signal: { sampleRate: number; samples: number };
  spec: AudioSpec;
  frames: number;
  logMel: number[][];
  cepstra: number[][];
  features: number[][];
}

/** The synthetic signal of scripts/make-mfcc-fixture.py, with the same formula and float32 rounding. */
function syntheticSignal(sampleRate: number, samples: number): Float32Array {
  let state = 12345;
  const x = new Float32Array(samples);
  for (let n = 0; n < samples; n++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const noise = (state / 4294967296) * 2 - 1;
    const t = n / sampleRate;
    const envelope = 0.2 + 0.8 * Math.sin((Math.PI * n) / samples);
    const chirpHz = 300 + (1200 * n) / samples;
    const v = 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.25 * Math.sin(2 * Math.PI * chirpHz * t) + 0.1 * Math.sin(2 * Math.PI * 2900 * t + 0.7);
    x[n] = envelope * v + 0.05 * noise;
  }
  return x;
}

function maxAbsDiff(actual: Float32Array, expected: number[][], width: number): number {
  assert.equal(actual.length, expected.length * width);
  let max = 0;
  expected.forEach((row, t) => {
    assert.equal(row.length, width);
    row.forEach((v, c) => (max = Math.max(max, Math.abs(actual[t * width + c] - v))));
  });
  return max;
}

const reference = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'mfcc', 'reference.json'), 'utf8')) as { cases: ReferenceCase[] };

// Tolerance: both sides compute in float64 from the same float32 signal, so they
// differ by rounding only (observed max 5e-6, from our float32 output and the
// fixture's 7 significant digits on c0 of about -30); 1e-3 leaves room for libm
// differences in sin/cos/log and is far below what any change of formula does
// (measured on case 1: per-frame pre-emphasis moves log mel values by 1.3,
// triangles linear in Hz instead of mel by 0.03, an unnormalised DCT the
// cepstra by 76, zero-padded edge frames in the deltas the features by 4.2).
const TOLERANCE = 1e-3;

for (const ref of reference.cases) {
  test(`MFCC front end matches the numpy reference (${ref.name})`, (t) => {
    const x = syntheticSignal(ref.signal.sampleRate, ref.signal.samples);
    const rate = ref.signal.sampleRate;
    const logMel = logMelSpectrogram(x, rate, ref.spec);
    assert.equal(logMel.frames, ref.frames);
    const cepstra = mfcc(x, rate, { ...ref.spec, deltas: false, normalize: false });
    const features = mfcc(x, rate, ref.spec);
    assert.equal(features.frames, ref.frames);
    assert.equal(features.width, 3 * ref.spec.coefficients);
    const errors = {
      logMel: maxAbsDiff(logMel.features, ref.logMel, ref.spec.melFilters),
      cepstra: maxAbsDiff(cepstra.features, ref.cepstra, ref.spec.coefficients),
      features: maxAbsDiff(features.features, ref.features, features.width),
    };
    t.diagnostic(`max abs error ${JSON.stringify(errors)}`);
    for (const [name, err] of Object.entries(errors)) assert.ok(err < TOLERANCE, `${name}: max abs error ${err} >= ${TOLERANCE}`);
  });
}

test('the real FFT power spectrum equals a direct DFT', () => {
  for (const n of [4, 8, 64, 512]) {
    const x = new Float64Array(n).map((_, i) => Math.sin(i * 1.7) + 0.3 * Math.cos(i * i * 0.01) - 0.2);
    const out = new Float64Array(n / 2 + 1);
    new RealFft(n).power(x, out);
    for (let k = 0; k <= n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let j = 0; j < n; j++) {
        re += x[j] * Math.cos((2 * Math.PI * k * j) / n);
        im -= x[j] * Math.sin((2 * Math.PI * k * j) / n);
      }
      const expected = re * re + im * im;
      assert.ok(Math.abs(out[k] - expected) <= 1e-9 * Math.max(1, expected), `n=${n} k=${k}: ${out[k]} vs ${expected}`);
    }
  }
  assert.throws(() => new RealFft(100), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_SPEC_INVALID' && e.message.includes('100'));
});

test('HTK mel scale and filterbank', () => {
  assert.ok(Math.abs(hzToMel(700) - 2595 * Math.log10(2)) < 1e-9);
  assert.ok(Math.abs(hzToMel(1000) - 1000) < 0.1); // the scale's anchor: 1000 Hz is about 1000 mel
  for (const hz of [0, 20, 440, 3999.5]) assert.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-9);
  const fb = melFilterbank(8000, 512, 26, 20, 4000);
  assert.equal(fb.bins, 257);
  assert.equal(fb.edgesHz.length, 28);
  assert.ok(Math.abs(fb.edgesHz[0] - 20) < 1e-9 && Math.abs(fb.edgesHz[27] - 4000) < 1e-9);
  // Neighbouring triangles share edges, so between the first and last centre the weights sum to 1 at every bin.
  for (let k = 0; k < fb.bins; k++) {
    const hz = (k * 8000) / 512;
    if (hz <= fb.edgesHz[1] || hz >= fb.edgesHz[26]) continue;
    let sum = 0;
    for (let m = 0; m < fb.filters; m++) {
      const j = k - fb.start[m];
      if (j >= 0 && j < fb.weights[m].length) sum += fb.weights[m][j];
    }
    assert.ok(Math.abs(sum - 1) < 1e-12, `bin ${k} (${hz} Hz): weights sum to ${sum}`);
  }
});

test('a pure tone peaks in the mel band that contains its frequency', () => {
  const spec = defaultAudioSpec;
  const fb = melFilterbank(8000, 512, spec.melFilters, spec.lowHz, 4000);
  const frequencies = [...[2, 8, 14, 20, 25].map((m) => fb.edgesHz[m + 1]), 333, 1000, 1234, 2750, 3600];
  for (const f of frequencies) {
    const x = new Float32Array(4000).map((_, n) => 0.5 * Math.sin((2 * Math.PI * f * n) / 8000));
    const { features, frames, width } = logMelSpectrogram(x, 8000, spec);
    const weights = Array.from({ length: width }, (_, m) => melWeight(fb, m, f));
    const expected = weights.indexOf(Math.max(...weights));
    for (const t of [1, Math.floor(frames / 2), frames - 1]) {
      const row = Array.from(features.subarray(t * width, (t + 1) * width));
      const peak = row.indexOf(Math.max(...row));
      assert.equal(peak, expected, `${f.toFixed(1)} Hz, frame ${t}: peak in band ${peak}, expected ${expected} (weights ${weights[peak]} vs ${weights[expected]})`);
    }
  }
});

test('silence gives finite values: the log floor, c0 = sqrt(M) ln(floor), and zeros after normalisation', () => {
  const silence = new Float32Array(8000);
  const logMel = logMelSpectrogram(silence, 8000, defaultAudioSpec);
  for (const v of logMel.features) assert.ok(Math.abs(v - Math.log(LOG_FLOOR)) < 1e-4);
  const raw = mfcc(silence, 8000, { ...defaultAudioSpec, deltas: false, normalize: false });
  for (let t = 0; t < raw.frames; t++) {
    assert.ok(Math.abs(raw.features[t * 13] - Math.sqrt(26) * Math.log(LOG_FLOOR)) < 1e-3);
    for (let c = 1; c < 13; c++) assert.ok(Math.abs(raw.features[t * 13 + c]) < 1e-4);
  }
  const full = mfcc(silence, 8000, defaultAudioSpec);
  assert.deepEqual([full.frames, full.width], [98, 39]);
  for (const v of full.features) assert.ok(Math.abs(v) < 1e-9); // constant columns are centred, not scaled
});

test('pre-emphasis attenuates a DC offset by (1 - a)^2 in power', () => {
  const dc = new Float32Array(4000).fill(0.5);
  const plain = logMelSpectrogram(dc, 8000, { ...defaultAudioSpec, preEmphasis: 0 });
  const emphasised = logMelSpectrogram(dc, 8000, defaultAudioSpec);
  const expected = 2 * Math.log(1 - defaultAudioSpec.preEmphasis); // -7.01: 30.5 dB
  let checked = 0;
  for (let t = 1; t < plain.frames; t++) {
    // Frame 0 holds the step y[0] = x[0]; bands the DC does not reach sit at the floor.
    for (let m = 0; m < plain.width; m++) {
      const i = t * plain.width + m;
      if (emphasised.features[i] < Math.log(LOG_FLOOR) + 10) continue;
      assert.ok(Math.abs(emphasised.features[i] - plain.features[i] - expected) < 1e-4, `frame ${t} band ${m}`);
      checked++;
    }
  }
  assert.ok(checked >= plain.frames - 1, `only ${checked} band energies above the floor`);
  // On a tone plus DC, the DC's lift of the lowest band shrinks by about 7 nats with pre-emphasis.
  const tone = new Float32Array(8000).map((_, n) => 0.3 * Math.sin((2 * Math.PI * 1000 * n) / 8000));
  const lift = (a: number): number => {
    const spec = { ...defaultAudioSpec, preEmphasis: a };
    return logMelSpectrogram(tone.map((v) => v + 0.5), 8000, spec).features[5 * 26] - logMelSpectrogram(tone, 8000, spec).features[5 * 26];
  };
  assert.ok(lift(0) - lift(0.97) > 5, `lift without ${lift(0)}, with ${lift(0.97)}`);
});

test('output shape follows the frame count formula 1 + floor((N - window) / hop)', () => {
  const geometry = frameGeometry(defaultAudioSpec);
  assert.deepEqual(geometry, { windowLength: 200, hopLength: 80, fftSize: 512, highHz: 4000 });
  for (const n of [200, 201, 279, 280, 281, 1148, 8000, 12345]) {
    const expected = 1 + Math.floor((n - 200) / 80);
    assert.equal(frameCount(n, geometry), expected);
    const x = new Float32Array(n).map((_, i) => Math.sin(i * 0.3));
    const out = mfcc(x, 8000, defaultAudioSpec);
    assert.deepEqual([out.frames, out.width, out.features.length], [expected, 39, expected * 39]);
    assert.equal(mfcc(x, 8000, { ...defaultAudioSpec, deltas: false }).width, 13);
  }
  assert.throws(() => mfcc(new Float32Array(199), 8000, defaultAudioSpec), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_TOO_SHORT' && e.message.includes('199'));
  // fftSize 0: the next power of two of the window (320 samples at 16 kHz -> 512).
  assert.equal(frameGeometry({ ...defaultAudioSpec, sampleRate: 16000, fftSize: 0 }).fftSize, 512);
});

test('deltas follow the regression formula with replicated edge frames', () => {
  // One column c[t] = t^2 for t = 0..5 in column 0 of a 2-wide matrix, deltas into column 1, N = 2 (denominator 10).
  const data = new Float64Array(12);
  for (let t = 0; t < 6; t++) data[t * 2] = t * t;
  appendDeltas(data, 6, 2, 0, 1, 1, 2);
  const c = (t: number): number => Math.min(Math.max(t, 0), 5) ** 2;
  for (let t = 0; t < 6; t++) {
    const expected = (1 * (c(t + 1) - c(t - 1)) + 2 * (c(t + 2) - c(t - 2))) / 10;
    assert.ok(Math.abs(data[t * 2 + 1] - expected) < 1e-12, `t=${t}`);
  }
  assert.equal(data[2 * 2 + 1], 4); // t = 2, interior: (1 * (9 - 1) + 2 * (16 - 0)) / 10, the derivative of t^2
  assert.equal(data[1], 0.9); // t = 0: c(-1) = c(-2) = c(0) = 0, so (1 * (1 - 0) + 2 * (4 - 0)) / 10
});

test('normalisation gives every column zero mean and unit variance', () => {
  const frames = 50;
  const data = new Float64Array(frames * 3).map((_, i) => (i % 3 === 2 ? 7 : Math.sin(i) * (1 + (i % 3)) + i * 0.01));
  normalizeColumns(data, frames, 3);
  for (let c = 0; c < 3; c++) {
    let sum = 0;
    let sq = 0;
    for (let t = 0; t < frames; t++) sum += data[t * 3 + c];
    for (let t = 0; t < frames; t++) sq += (data[t * 3 + c] - sum / frames) ** 2;
    assert.ok(Math.abs(sum / frames) < 1e-12);
    assert.ok(Math.abs(sq / frames - (c === 2 ? 0 : 1)) < 1e-9, `column ${c}: variance ${sq / frames}`); // a constant column becomes 0
  }
});

test('invalid specs are rejected with the offending values', () => {
  const bad: Array<[Partial<AudioSpec>, string]> = [
    [{ fftSize: 100 }, '100'],
    [{ fftSize: 128 }, '128'], // smaller than the 200-sample window
    [{ coefficients: 30 }, '30'],
    [{ highHz: 5000 }, '5000'],
    [{ lowHz: 4000 }, '4000'],
    [{ preEmphasis: 1 }, '1'],
    [{ hopMs: 0 }, '0'],
    [{ deltaWindow: 0 }, '0'],
    [{ sampleRate: 1000 }, '1000'],
    [{ windowMs: Number.NaN }, 'NaN'],
    [{ fftSize: 2 ** 32 }, 'fftSize 4294967296 is more than the largest FFT, 65536'],
    [{ windowMs: 9000, fftSize: 0 }, 'fftSize 0 takes the next power of two of the window of 72000 samples (windowMs 9000 at 8000 Hz), 131072'],
  ];
  for (const [patch, value] of bad) {
    assert.throws(
      () => mfcc(new Float32Array(8000), 8000, { ...defaultAudioSpec, ...patch }),
      (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_SPEC_INVALID' && e.message.includes(value),
      JSON.stringify(patch),
    );
  }
  // Mel filters without an FFT bin are not refused (specs stored with samples and models before the
  // daemon warned about them must still decode): their features are the constant log floor.
  const signal = Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 3) * 0.5);
  for (const patch of [{ melFilters: 192, coefficients: 13 }, { windowMs: 1, hopMs: 1, fftSize: 8, melFilters: 10, coefficients: 5 }]) {
    const out = mfcc(signal, 8000, { ...defaultAudioSpec, ...patch, deltas: false, normalize: false });
    assert.ok(out.frames > 0 && out.features.every(Number.isFinite), JSON.stringify(patch));
  }
});
