import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { noLeaks } from '../helpers/tensors.ts';
import { BonsaiError } from '../../core/errors.ts';
import { seededRandom } from '../../core/data/dataset.ts';
import {
  affineDistortion, affineMatrix, affineTransform, augmentArgs, IDENTITY_AFFINE, kernelHandlesBatch, type AffineParams,
} from '../../core/data/augment.ts';

const METHODS = ['auto', 'gather', 'host', 'kernel'] as const;

function params(p: Partial<AffineParams>): AffineParams {
  return { ...IDENTITY_AFFINE, ...p };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Random [0, 1] images: a batch of `b` `h` x `w` x 1. */
function randomImages(b: number, h: number, w: number, seed: number): tf.Tensor4D {
  const r = seededRandom(seed);
  return tf.tensor4d(Float32Array.from({ length: b * h * w }, () => r()), [b, h, w, 1]);
}

/** Runs `fn` with the kernel method only where the kernel is trustworthy for this batch size. */
function methodsFor(batch: number): readonly (typeof METHODS)[number][] {
  return METHODS.filter((m) => m !== 'kernel' || kernelHandlesBatch(batch));
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`[${backend}] identity parameters give the input back`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      const images = randomImages(3, 28, 28, 1);
      const ident = new Float32Array(3 * 8);
      for (let i = 0; i < 3; i++) ident.set(affineMatrix(IDENTITY_AFFINE, 28, 28), i * 8);
      for (const method of methodsFor(3)) {
        const out = affineTransform(images, ident, { method });
        assert.ok(maxAbsDiff(await out.data(), await images.data()) < 1e-5, method);
        out.dispose();
      }
      images.dispose();
    });
  });

  test(`[${backend}] a 1-pixel translation moves a bright pixel by exactly 1 pixel, per image of a batch`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      const h = 28;
      const w = 28;
      const buf = new Float32Array(3 * h * w);
      for (let i = 0; i < 3; i++) buf[i * h * w + 10 * w + 12] = 1; // (y 10, x 12)
      const images = tf.tensor4d(buf, [3, h, w, 1]);
      const shifts = [params({ translateX: 1 }), params({ translateY: 1 }), params({ translateX: -1, translateY: -1 })];
      const expected = [[10, 13], [11, 12], [9, 11]];
      const transforms = shifts.map((p) => affineMatrix(p, h, w));
      for (const method of methodsFor(3)) {
        const out = affineTransform(images, transforms, { method });
        const v = await out.data();
        for (let i = 0; i < 3; i++) {
          const [y, x] = expected[i];
          const img = v.subarray(i * h * w, (i + 1) * h * w);
          assert.equal(img[y * w + x], 1, `${method}: image ${i} pixel (${y}, ${x})`);
          assert.equal(Array.from(img).reduce((s, q) => s + q, 0), 1, `${method}: image ${i} has a single bright pixel`);
        }
        out.dispose();
      }
      images.dispose();
    });
  });

  test(`[${backend}] rotation, scale and shear match hand-computed resampling`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      // 3x3 with one pixel right of centre: +90 degrees turns +x towards +y (down).
      const dot = tf.tensor4d([0, 0, 0, 0, 0, 1, 0, 0, 0], [1, 3, 3, 1]);
      // 5x5 horizontal ramp I(x, y) = x: bilinear resampling of a ramp is exact.
      const ramp = tf.tensor4d(Float32Array.from({ length: 25 }, (_, i) => i % 5), [1, 5, 5, 1]);
      for (const method of methodsFor(1)) {
        const rot = affineTransform(dot, [affineMatrix(params({ rotationDeg: 90 }), 3, 3)], { method });
        assert.ok(maxAbsDiff(await rot.data(), [0, 0, 0, 0, 0, 0, 0, 1, 0]) < 1e-5, `${method} rotation`);
        // scale 2 about x = 2: out(x) = 2 + (x - 2) / 2
        const big = affineTransform(ramp, [affineMatrix(params({ scale: 2 }), 5, 5)], { method });
        assert.ok(maxAbsDiff((await big.data()).subarray(10, 15), [1, 1.5, 2, 2.5, 3]) < 1e-5, `${method} scale`);
        // shear 0.5: row y = 4 (2 below centre) reads x - 1; x = 0 reads outside (fill 0)
        const sheared = affineTransform(ramp, [affineMatrix(params({ shear: 0.5 }), 5, 5)], { method });
        const s = await sheared.data();
        assert.ok(maxAbsDiff(s.subarray(20, 25), [0, 0, 1, 2, 3]) < 1e-5, `${method} shear, bottom row`);
        assert.ok(maxAbsDiff(s.subarray(10, 15), [0, 1, 2, 3, 4]) < 1e-5, `${method} shear, centre row unchanged`);
        // squeeze 0.25 widens by 1.25 and so reads x = 2 + (x' - 2) / 1.25
        const sq = affineTransform(ramp, [affineMatrix(params({ squeeze: 0.25 }), 5, 5)], { method });
        assert.ok(maxAbsDiff((await sq.data()).subarray(10, 15), [0.4, 1.2, 2, 2.8, 3.6]) < 1e-5, `${method} squeeze`);
        tf.dispose([rot, big, sheared, sq]);
      }
      tf.dispose([dot, ramp]);
    });
  });

  test(`[${backend}] the gather and host fallbacks equal the kernel on random distortions`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      const batch = kernelHandlesBatch(8) ? 8 : 1;
      const images = randomImages(batch, 28, 28, 2);
      const transforms = affineDistortion({ seed: 5 }).nextTransforms(batch, 28, 28);
      for (const interpolation of ['bilinear', 'nearest'] as const) {
        for (const fillValue of [0, 0.5]) {
          const a = affineTransform(images, transforms, { method: 'kernel', interpolation, fillValue });
          const b = affineTransform(images, transforms, { method: 'gather', interpolation, fillValue });
          const c = affineTransform(images, transforms, { method: 'host', interpolation, fillValue });
          assert.ok(maxAbsDiff(await a.data(), await b.data()) < 1e-4, `gather, ${interpolation}, fill ${fillValue}`);
          assert.ok(maxAbsDiff(await a.data(), await c.data()) < 1e-4, `host, ${interpolation}, fill ${fillValue}`);
          tf.dispose([a, b, c]);
        }
      }
      images.dispose();
    });
  });

  test(`[${backend}] random distortions are seeded, change the images, and stay in range`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      const images = randomImages(16, 28, 28, 3);
      const a = affineDistortion({ seed: 11 });
      const b = affineDistortion({ seed: 11 });
      const c = affineDistortion({ seed: 12 });
      const a1 = a.apply(images);
      const b1 = b.apply(images);
      const c1 = c.apply(images);
      const a2 = a.apply(images);
      const va = await a1.data();
      assert.deepEqual(a1.shape, [16, 28, 28, 1]);
      assert.equal(maxAbsDiff(va, await b1.data()), 0, 'same seed, same output');
      assert.ok(maxAbsDiff(va, await c1.data()) > 0.1, 'another seed, other output');
      assert.ok(maxAbsDiff(va, await a2.data()) > 0.1, 'the stream advances between batches');
      assert.ok(maxAbsDiff(va, await images.data()) > 0.1, 'images are distorted');
      for (const v of [va, await c1.data(), await a2.data()]) {
        let lo = Infinity;
        let hi = -Infinity;
        for (const q of v) {
          lo = Math.min(lo, q);
          hi = Math.max(hi, q);
        }
        assert.ok(lo >= 0 && hi <= 1 + 1e-6, `range [${lo}, ${hi}]`);
      }
      tf.dispose([images, a1, b1, c1, a2]);
    });
  });

  test(`[${backend}] disabled or probability 0 passes images through as a new tensor`, async () => {
    assert.ok(await tf.setBackend(backend));
    await noLeaks(async () => {
      const images = randomImages(4, 8, 8, 4);
      const off = affineDistortion({ enabled: false }).apply(images);
      const never = affineDistortion({ probability: 0, seed: 3 }).apply(images);
      assert.notEqual(off, images);
      assert.deepEqual(await off.data(), await images.data());
      assert.ok(maxAbsDiff(await never.data(), await images.data()) < 1e-5);
      images.dispose();
      assert.equal((await off.data()).length, 256, 'still usable after the input is disposed');
      tf.dispose([off, never]);
    });
  });
}

test('on the wasm backend tf.image.transform handles batches; on cpu the gather fallback is chosen for batches', async () => {
  await tf.setBackend('wasm');
  assert.equal(await noLeaks(() => kernelHandlesBatch(4)), true);
  await tf.setBackend('cpu');
  // tfjs-backend-cpu 4.22's Transform kernel transforms only the first image of a batch
  assert.equal(await noLeaks(() => kernelHandlesBatch(4)), false);
  assert.equal(await noLeaks(() => kernelHandlesBatch(1)), true);
});

test('argument and input errors carry codes', async () => {
  await tf.setBackend('cpu');
  const bad = (e: unknown): boolean => e instanceof BonsaiError && e.code === 'BONSAI_DATA_AUGMENT_BAD_ARGS';
  assert.throws(() => augmentArgs({ maxRotationDeg: -1 }), bad);
  assert.throws(() => augmentArgs({ scaleRange: [1.2, 1.1] }), bad);
  assert.throws(() => augmentArgs({ scaleRange: [0, 1.1] }), bad);
  assert.throws(() => augmentArgs({ probability: 2 }), bad);
  assert.throws(() => augmentArgs({ maxSqueeze: 1 }), bad);
  assert.deepEqual(augmentArgs({ maxShear: 0.3 }).scaleRange, [0.9, 1.1]);
  await noLeaks(() => {
    const flat = tf.zeros([2, 784]);
    assert.throws(() => affineDistortion().apply(flat as unknown as tf.Tensor4D), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DATA_AUGMENT_BAD_INPUT');
    const imgs = tf.zeros([2, 4, 4, 1]) as tf.Tensor4D;
    assert.throws(() => affineTransform(imgs, new Float32Array(8)), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DATA_AUGMENT_BAD_INPUT');
    tf.dispose([flat, imgs]);
  });
});
