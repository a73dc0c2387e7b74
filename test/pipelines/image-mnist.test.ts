import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { axisTaps, mnistCentre, processImage, processImageDetailed, resampleRegion } from '../../pipelines/image/index.ts';
import { grayPng, spec, syntheticDigit, TEST_LIMITS } from './corpus/images.ts';

/** Centre of mass (x, y) and bounding box of the non-zero pixels of a (h, w) image. */
function moments(pixels: Float32Array, width: number, height: number): { cx: number; cy: number; boxWidth: number; boxHeight: number } {
  let mass = 0;
  let mx = 0;
  let my = 0;
  let x0 = width;
  let x1 = -1;
  let y0 = height;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x];
      if (v <= 0) continue;
      mass += v;
      mx += v * x;
      my += v * y;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  return { cx: mx / mass, cy: my / mass, boxWidth: x1 - x0 + 1, boxHeight: y1 - y0 + 1 };
}

test('area resampling averages and linear resampling interpolates (hand-computed)', () => {
  const row = Float32Array.from([1, 2, 3, 4]);
  assert.deepEqual([...resampleRegion(row, 4, { x: 0, y: 0, width: 4, height: 1 }, 2, 1)], [1.5, 3.5]);
  // 3 -> 2: output 0 covers [0, 1.5): (1 + 0.5 * 2) / 1.5; output 1 covers [1.5, 3): (0.5 * 2 + 3) / 1.5.
  const three = resampleRegion(Float32Array.from([1, 2, 3]), 3, { x: 0, y: 0, width: 3, height: 1 }, 2, 1);
  assert.ok(Math.abs(three[0] - 2 / 1.5) < 1e-6 && Math.abs(three[1] - 4 / 1.5) < 1e-6, `${[...three]}`);
  // 2 -> 4 (centres at -0.25, 0.25, 0.75, 1.25 of the source, clamped).
  assert.deepEqual([...resampleRegion(Float32Array.from([0, 1]), 2, { x: 0, y: 0, width: 2, height: 1 }, 4, 1)], [0, 0.25, 0.75, 1]);
  for (const taps of axisTaps(7, 3)) assert.ok(Math.abs(taps.weight.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

test('mnistCentre on a hand-computed block: 20-pixel box, centre of mass on the centre', () => {
  // 10x10 black image with a 4-wide, 2-high white block at x 1..4, y 6..7.
  const gray = new Uint8Array(100);
  for (let y = 6; y < 8; y++) for (let x = 1; x < 5; x++) gray[y * 10 + x] = 255;
  const { pixels, inverted, box } = mnistCentre(gray, 10, 10);
  assert.equal(inverted, false);
  assert.deepEqual(box, { x: 1, y: 6, width: 4, height: 2 });
  // Scaled to 20x10 of ones; its centre of mass (9.5, 4.5) goes to (13.5, 13.5): x 4..23, y 9..18.
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const inside = x >= 4 && x < 24 && y >= 9 && y < 19;
      assert.equal(pixels[y * 28 + x], inside ? 1 : 0, `(${x}, ${y})`);
    }
  }
});

test('mnistCentre inverts a light background and gives the same digit as the dark version', () => {
  const dark = new Uint8Array(16 * 16);
  for (let y = 3; y < 12; y++) dark[y * 16 + 10] = 255; // a vertical stroke off-centre
  for (let x = 7; x < 13; x++) dark[3 * 16 + x] = 255;
  const light = dark.map((v) => 255 - v);
  const a = mnistCentre(dark, 16, 16);
  const b = mnistCentre(light, 16, 16);
  assert.equal(a.inverted, false);
  assert.equal(b.inverted, true);
  assert.deepEqual([...b.pixels], [...a.pixels]);
});

for (const lightBackground of [true, false]) {
  test(`mnist policy on a synthetic off-centre digit (${lightBackground ? 'dark ink on light paper' : 'light ink on dark'})`, async () => {
    const png = await syntheticDigit(120, 90, lightBackground);
    const result = await processImageDetailed(png, spec({ resize: 'mnist' }), TEST_LIMITS);
    assert.equal(result.inverted, lightBackground);
    const { features, shape } = result.sample;
    assert.deepEqual(shape, [28, 28, 1]);
    const m = moments(features, 28, 28);
    assert.ok(Math.abs(m.cx - 13.5) <= 1 && Math.abs(m.cy - 13.5) <= 1, `centre of mass (${m.cx.toFixed(2)}, ${m.cy.toFixed(2)})`);
    assert.ok(m.boxWidth <= 20 && m.boxHeight <= 20, `box ${m.boxWidth}x${m.boxHeight}`);
    assert.ok(Math.max(m.boxWidth, m.boxHeight) >= 19, `the longer side fills the 20-pixel box: ${m.boxWidth}x${m.boxHeight}`);
    // Bright digit on a black background, like MNIST: corners 0, strokes saturated.
    assert.equal(features[0], 0);
    assert.equal(features[27 * 28 + 27], 0);
    assert.ok(Math.max(...features) === 1);
  });
}

test('mnist policy scales to the range and repeats gray into 3 channels', async () => {
  const png = await syntheticDigit();
  const gray = await processImage(png, spec({ resize: 'mnist' }), TEST_LIMITS);
  const rgb = await processImage(png, spec({ resize: 'mnist', channels: 3, range: [-1, 1] }), TEST_LIMITS);
  assert.deepEqual(rgb.shape, [28, 28, 3]);
  for (let i = 0; i < 28 * 28; i++) {
    const expected = -1 + 2 * gray.features[i];
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(rgb.features[i * 3 + c] - expected) < 1e-6);
  }
});

test('mnist policy rejects a blank image with BONSAI_INGEST_IMAGE_BLANK', async () => {
  const png = await grayPng(30, 30, (x, y) => 240 + ((x + y) % 3)); // paper with faint texture
  await assert.rejects(processImage(png, spec({ resize: 'mnist' }), TEST_LIMITS), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_INGEST_IMAGE_BLANK' && e.details.contrast === 1);
});

test('mnist policy follows the box ratio for other output sizes', async () => {
  const png = await syntheticDigit();
  const s = await processImage(png, spec({ resize: 'mnist', height: 56, width: 56 }), TEST_LIMITS);
  const m = moments(s.features, 56, 56);
  assert.ok(Math.max(m.boxWidth, m.boxHeight) <= 40 && Math.max(m.boxWidth, m.boxHeight) >= 39);
  assert.ok(Math.abs(m.cx - 27.5) <= 1 && Math.abs(m.cy - 27.5) <= 1);
});
