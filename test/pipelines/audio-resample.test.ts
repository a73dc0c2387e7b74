import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { resample } from '../../pipelines/audio/index.ts';

function tone(hz: number, rate: number, seconds: number, amplitude = 0.5): Float32Array {
  return new Float32Array(Math.round(rate * seconds)).map((_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / rate + 0.3));
}

/** Amplitude of the component at `hz` in the middle of `x` (away from the zero-padded edges), by projection. */
function amplitudeAt(x: Float32Array, rate: number, hz: number): number {
  const lo = Math.floor(x.length * 0.2);
  const hi = Math.floor(x.length * 0.8);
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let n = lo; n < hi; n++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * (n - lo)) / (hi - lo)); // Hann, so other components do not leak in
    re += w * x[n] * Math.cos((2 * Math.PI * hz * n) / rate);
    im += w * x[n] * Math.sin((2 * Math.PI * hz * n) / rate);
    norm += w;
  }
  return (2 * Math.hypot(re, im)) / norm;
}

/** RMS of the middle of `x`, as an amplitude (RMS * sqrt 2). */
function rmsAmplitude(x: Float32Array): number {
  const lo = Math.floor(x.length * 0.2);
  const hi = Math.floor(x.length * 0.8);
  let sq = 0;
  for (let n = lo; n < hi; n++) sq += x[n] * x[n];
  return Math.sqrt((2 * sq) / (hi - lo));
}

const db = (ratio: number): number => 20 * Math.log10(ratio);

test('identical rates return the input itself', () => {
  const x = tone(440, 8000, 0.1);
  assert.equal(resample(x, 8000, 8000), x);
});

test('output length is ceil(length * to / from)', () => {
  for (const [n, from, to] of [[8000, 16000, 8000], [8001, 16000, 8000], [1000, 44100, 16000], [999, 8000, 16000], [10, 48000, 8000]]) {
    assert.equal(resample(new Float32Array(n), from, to).length, Math.ceil((n * to) / from), `${n} samples ${from} -> ${to}`);
  }
});

// Tones below the new Nyquist frequency keep their amplitude within 1 dB, at the
// frequency they had; tones above it (which would alias) lose at least 40 dB.
const cases: Array<{ from: number; to: number; pass: number[]; stop: number[] }> = [
  { from: 16000, to: 8000, pass: [100, 1000, 3000, 3400], stop: [4100, 4400, 5000, 7000] },
  { from: 48000, to: 8000, pass: [1000, 3300], stop: [4200, 9000, 20000] },
  { from: 44100, to: 16000, pass: [500, 6800], stop: [8400, 12000, 21000] },
  { from: 22050, to: 16000, pass: [1000, 6500], stop: [8500, 10000] },
  { from: 11025, to: 8000, pass: [1000, 3000], stop: [4300, 5000] },
  // L = 8000 phases with 296 taps exceed the table limit: neighbouring phases are interpolated.
  { from: 44101, to: 8000, pass: [1000, 3000], stop: [4500, 10000] },
];

for (const { from, to, pass, stop } of cases) {
  test(`anti-aliasing ${from} -> ${to} Hz: passband within 1 dB, aliases down by 40 dB`, () => {
    for (const hz of pass) {
      const y = resample(tone(hz, from, 0.25), from, to);
      const gain = db(amplitudeAt(y, to, hz) / 0.5);
      assert.ok(Math.abs(gain) < 1, `${hz} Hz: gain ${gain.toFixed(3)} dB`);
      // Nothing but the tone: the residual after removing it is small.
      assert.ok(Math.abs(db(rmsAmplitude(y) / 0.5)) < 1, `${hz} Hz: RMS gain ${db(rmsAmplitude(y) / 0.5).toFixed(3)} dB`);
    }
    for (const hz of stop) {
      const y = resample(tone(hz, from, 0.25), from, to);
      const attenuation = db(rmsAmplitude(y) / 0.5);
      assert.ok(attenuation < -40, `${hz} Hz: only ${attenuation.toFixed(1)} dB down`);
    }
  });
}

test('upsampling 8 -> 16 kHz keeps a tone and suppresses its image above the old Nyquist frequency', () => {
  const y = resample(tone(1000, 8000, 0.25), 8000, 16000);
  assert.ok(Math.abs(db(amplitudeAt(y, 16000, 1000) / 0.5)) < 1);
  assert.ok(db(amplitudeAt(y, 16000, 7000) / 0.5) < -40, `image at 7 kHz: ${db(amplitudeAt(y, 16000, 7000) / 0.5).toFixed(1)} dB`);
  // Without the anti-imaging filter (zero stuffing) the image would be as loud as the tone.
  const x = tone(3000, 8000, 0.25);
  const z = resample(x, 8000, 16000);
  assert.ok(db(amplitudeAt(z, 16000, 5000) / 0.5) < -40);
  // Interpolation passes through the original samples (up to the filter's ripple).
  let err = 0;
  for (let n = 400; n < 1600; n++) err = Math.max(err, Math.abs(z[2 * n] - x[n]));
  assert.ok(err < 0.01, `max deviation at the original instants ${err}`);
});

test('a constant is preserved exactly away from the edges', () => {
  const y = resample(new Float32Array(4000).fill(0.25), 44100, 8000);
  for (let n = 100; n < y.length - 100; n++) assert.ok(Math.abs(y[n] - 0.25) < 1e-6, `sample ${n}: ${y[n]}`);
});

test('rates that are not positive integers are rejected', () => {
  for (const [from, to] of [[0, 8000], [8000, -1], [44100.5, 8000], [8000, Number.NaN]]) {
    assert.throws(
      () => resample(new Float32Array(10), from, to),
      (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_AUDIO_RESAMPLE_RATE' && e.message.includes(String(Number.isNaN(to) ? 'NaN' : from <= 0 || !Number.isInteger(from) ? from : to)),
    );
  }
});
