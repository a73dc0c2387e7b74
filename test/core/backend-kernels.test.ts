import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../core/backend.ts';
import { byConvolution, byIm2col, useIm2col } from '../../core/backend/conv2d-backprop-filter.ts';
import { rotateFilter } from '../../core/backend/conv2d-backprop-input.ts';
import { wasmKernels, stockWasmKernel, registerWasmKernels } from '../../core/backend/register-wasm-kernels.ts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { noLeaks } from '../helpers/tensors.ts';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
/** [name, input shape NHWC, filter shape, strides, padding] */
type Case = [string, [number, number, number, number], [number, number, number, number], number | [number, number], Pad];

const cases: Case[] = [
  ['3x3 stride 1 same', [2, 9, 7, 3], [3, 3, 3, 4], 1, 'same'],
  ['3x3 stride 2 same', [2, 9, 7, 3], [3, 3, 3, 4], 2, 'same'],
  ['3x2 stride 2 valid, unused rows', [3, 9, 7, 2], [3, 2, 2, 4], 2, 'valid'],
  ['4x3 strides 2x3 same', [2, 10, 11, 3], [4, 3, 3, 5], [2, 3], 'same'],
  ['LeNet-5 conv1 5x5 same', [2, 12, 12, 1], [5, 5, 1, 6], 1, 'same'],
  ['LeNet-5 conv2 5x5 valid', [2, 12, 12, 6], [5, 5, 6, 16], 1, 'valid'],
  ['ResNet stem 7x7 stride 2 same', [2, 16, 14, 3], [7, 7, 3, 8], 2, 'same'],
  ['ResNet projection 1x1 stride 2', [2, 8, 8, 4], [1, 1, 4, 8], 2, 'same'],
  ['2x2 stride 2 same', [2, 5, 5, 2], [2, 2, 2, 3], 2, 'same'],
  ['3x3 stride 3 valid', [2, 10, 9, 3], [3, 3, 3, 4], 3, 'valid'],
  ['numeric pad 1', [2, 7, 6, 3], [3, 3, 3, 2], 1, 1],
  ['explicit pad, stride 2', [2, 8, 9, 2], [3, 3, 2, 3], 2, [[0, 0], [1, 2], [0, 1], [0, 0]]],
  ['3x3 stride 1, 256 channels (im2col)', [2, 4, 5, 256], [3, 3, 256, 4], 1, 'same'],
  ['3x3 stride 1 valid, 256 channels (im2col)', [1, 5, 4, 256], [3, 2, 256, 3], 1, 'valid'],
];

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `kernelName` on the cpu backend directly (its reference implementation). */
function cpuKernel(kernelName: string, inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: tf.NamedAttrMap): Float32Array {
  const backend = tf.engine().findBackend('cpu');
  const infos: Record<string, tf.TensorInfo> = {};
  for (const [k, v] of Object.entries(inputs)) infos[k] = { dataId: backend.write(v.values, v.shape, 'float32'), shape: v.shape, dtype: 'float32' };
  const out = tf.getKernel(kernelName, 'cpu')!.kernelFunc({ inputs: infos, backend, attrs }) as tf.TensorInfo;
  const result = backend.readSync(out.dataId) as Float32Array;
  for (const info of [...Object.values(infos), out]) backend.disposeData(info.dataId);
  return result;
}

/** Runs the registered wasm kernel through the engine (as tf.grads does). */
function wasmKernel(kernelName: string, inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: tf.NamedAttrMap): Float32Array {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) tensors[k] = tf.tensor(v.values, v.shape);
  const out = tf.engine().runKernel(kernelName, tensors, attrs) as tf.Tensor;
  const result = out.dataSync() as Float32Array;
  tf.dispose([out, ...Object.values(tensors)]);
  return result;
}

/** max |a - b| / max |b|: the error relative to the reference's scale. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(scale > 0, 'reference is all zeros');
  return diff / scale;
}

/** Asserts that `fn` leaves no tensor and no wasm buffer behind (composed kernels free intermediates themselves). */
async function noLeaksWasm(fn: () => void): Promise<void> {
  const backend = tf.backend() as BackendWasm;
  const before = backend.numDataIds();
  await noLeaks(fn);
  assert.equal(backend.numDataIds(), before, `wasm buffers leaked: ${backend.numDataIds() - before}`);
}

function convInputs(c: Case, seed: number) {
  const [, xShape, fShape, strides, pad] = c;
  const info = tf.backend_util.computeConv2DInfo(xShape, fShape, strides, 1, pad);
  return {
    x: { values: values(size(xShape), seed), shape: [...xShape] },
    filter: { values: values(size(fShape), seed + 1), shape: [...fShape] },
    dy: { values: values(size(info.outShape), seed + 2), shape: [...info.outShape] },
  };
}

before(async () => {
  const info = await initBackend({ force: 'wasm', threads: 1 });
  assert.equal(info.name, 'wasm');
  // The cpu backend, used here as the reference, prints an advert on its first write.
  (tf.engine().findBackend('cpu') as unknown as { firstUse: boolean }).firstUse = false;
});

test('the explicit list registers Conv2DBackpropFilter (missing) and replaces Conv2DBackpropInput, MaxPoolGrad, BatchMatMul', () => {
  assert.deepEqual(wasmKernels.map((k) => [k.kernelName, k.why]), [
    ['Conv2DBackpropFilter', 'missing'], ['Conv2DBackpropInput', 'faster'], ['MaxPoolGrad', 'wrong'], ['BatchMatMul', 'faster'],
  ]);
  for (const entry of wasmKernels) {
    const stock = stockWasmKernel(entry.kernelName);
    assert.equal(stock === undefined, entry.why === 'missing', `${entry.kernelName}: the stock kernel is kept for comparison`);
    assert.equal(tf.getKernel(entry.kernelName, 'wasm')?.kernelFunc, entry.config(stock).kernelFunc);
  }
  assert.deepEqual(registerWasmKernels(), [], 'a second registration changes nothing');
});

for (const [i, c] of cases.entries()) {
  test(`Conv2DBackpropFilter on wasm matches cpu: ${c[0]}`, async () => {
    const { x, dy } = convInputs(c, 100 + i);
    const attrs = { strides: c[3], pad: c[4], dataFormat: 'NHWC', filterShape: c[2] } as unknown as tf.NamedAttrMap;
    const expected = cpuKernel('Conv2DBackpropFilter', { x, dy }, attrs);
    await noLeaksWasm(() => {
      assert.ok(relativeError(wasmKernel('Conv2DBackpropFilter', { x, dy }, attrs), expected) < 1e-4);
    });
  });

  test(`Conv2DBackpropInput on wasm matches cpu: ${c[0]}`, async () => {
    const { filter, dy } = convInputs(c, 200 + i);
    const attrs = { strides: c[3], pad: c[4], dataFormat: 'NHWC', inputShape: c[1] } as unknown as tf.NamedAttrMap;
    const expected = cpuKernel('Conv2DBackpropInput', { dy, filter }, attrs);
    await noLeaksWasm(() => {
      assert.ok(relativeError(wasmKernel('Conv2DBackpropInput', { dy, filter }, attrs), expected) < 1e-4);
    });
  });
}

/** [name, input shape, window, strides, padding] */
type PoolCase = [string, [number, number, number, number], number | [number, number], number | [number, number], Pad];
const poolCases: PoolCase[] = [
  ['2x2 stride 2 valid', [2, 8, 6, 3], 2, 2, 'valid'],
  ['3x3 stride 2 same (ResNet)', [2, 9, 8, 4], 3, 2, 'same'],
  ['3x3 stride 1 same', [3, 5, 7, 2], 3, 1, 'same'],
  ['2x3 strides 1x2 valid', [2, 7, 9, 2], [2, 3], [1, 2], 'valid'],
  ['2x2 stride 2 same, odd size', [1, 7, 5, 3], 2, 2, 'same'],
  // Windows that tile the input take the fast path of max-pool-grad.ts.
  ['2x2 stride 2 valid, odd size (a row and a column unused)', [2, 7, 9, 5], 2, 2, 'valid'],
  ['3x2 strides 3x2 valid', [1, 9, 8, 6], [3, 2], [3, 2], 'valid'],
];

/** Forward input of a pooling case, shifted so that many windows hold only negative values. */
function poolInputs(c: PoolCase, seed: number, shift: number) {
  const [, xShape, window, strides, pad] = c;
  const info = tf.backend_util.computePool2DInfo(xShape, window, strides, 1, pad);
  const x = values(size(xShape), seed).map((v) => v + shift);
  return { x: { values: x, shape: [...xShape] }, dy: { values: values(size(info.outShape), seed + 1), shape: [...info.outShape] } };
}

for (const [i, c] of poolCases.entries()) {
  test(`MaxPoolGrad on wasm matches cpu, also for all-negative windows: ${c[0]}`, async () => {
    for (const shift of [0, -2]) {
      const { x, dy } = poolInputs(c, 500 + i, shift);
      const attrs = { filterSize: c[2], strides: c[3], pad: c[4] } as unknown as tf.NamedAttrMap;
      // The forward output is an input of the kernel, unused by both backends.
      const output = { values: new Float32Array(size(dy.shape)), shape: dy.shape };
      const expected = cpuKernel('MaxPoolGrad', { dy, input: x, output }, attrs);
      await noLeaksWasm(() => {
        assert.ok(relativeError(wasmKernel('MaxPoolGrad', { dy, input: x, output }, attrs), expected) < 1e-4, `shift ${shift}`);
      });
    }
  });

  test(`MaxPoolGrad on wasm matches cpu on tied windows (the first maximum takes the gradient): ${c[0]}`, async () => {
    const { x, dy } = poolInputs(c, 700 + i, 0);
    // Three levels only: most windows hold their maximum more than once.
    const tied = { ...x, values: x.values.map((v) => Math.round(v * 1.5) - 1) };
    const attrs = { filterSize: c[2], strides: c[3], pad: c[4] } as unknown as tf.NamedAttrMap;
    const output = { values: new Float32Array(size(dy.shape)), shape: dy.shape };
    const expected = cpuKernel('MaxPoolGrad', { dy, input: tied, output }, attrs);
    await noLeaksWasm(() => {
      assert.ok(relativeError(wasmKernel('MaxPoolGrad', { dy, input: tied, output }, attrs), expected) < 1e-4);
    });
  });

  test(`the stock AvgPoolGrad on wasm matches cpu: ${c[0]}`, async () => {
    const { x, dy } = poolInputs(c, 600 + i, -2);
    const attrs = { filterSize: c[2], strides: c[3], pad: c[4] } as unknown as tf.NamedAttrMap;
    const expected = cpuKernel('AvgPoolGrad', { dy, input: x }, attrs);
    await noLeaksWasm(() => {
      assert.ok(relativeError(wasmKernel('AvgPoolGrad', { dy, input: x }, attrs), expected) < 1e-4);
    });
  });
}

test('the stock wasm MaxPoolGrad is wrong for an all-negative window, which is why it is replaced', async () => {
  const stock = stockWasmKernel('MaxPoolGrad');
  assert.ok(stock !== undefined);
  await noLeaksWasm(() => {
    const backend = tf.backend() as BackendWasm;
    // Replaced before the backend started, the stock kernel was never set up.
    stock.setupFunc?.(backend);
    const input = tf.tensor4d([-3, -1, -2, -4], [1, 2, 2, 1]);
    const dy = tf.tensor4d([1], [1, 1, 1, 1]);
    const attrs = { filterSize: 2, strides: 2, pad: 'valid' } as unknown as tf.NamedAttrMap;
    const ours = tf.engine().runKernel('MaxPoolGrad', { dy, input, output: dy }, attrs) as tf.Tensor;
    assert.deepEqual(Array.from(ours.dataSync()), [0, 1, 0, 0]);
    const theirs = stock.kernelFunc({ inputs: { dy, input, output: dy }, backend, attrs }) as tf.TensorInfo;
    assert.deepEqual(Array.from(backend.readSync(theirs.dataId) as Float32Array), [1, 0, 0, 0]);
    backend.disposeData(theirs.dataId);
    tf.dispose([input, dy, ours]);
  });
});

test('Conv2DBackpropFilter uses im2col for stride 1 with 256+ input channels, the convolution otherwise', () => {
  const uses = (xShape: number[], strides: number | number[]) => useIm2col(xShape, { strides } as unknown as tf.NamedAttrMap);
  assert.equal(uses([8, 7, 7, 512], 1), true);
  assert.equal(uses([8, 14, 14, 256], [1, 1]), true);
  assert.equal(uses([8, 14, 14, 128], 1), false);
  assert.equal(uses([8, 14, 14, 256], 2), false);
  assert.equal(uses([8, 14, 14, 512], [1, 2]), false);
});

test('both strategies of Conv2DBackpropFilter match cpu on every case', async () => {
  for (const [i, c] of cases.entries()) {
    const { x, dy } = convInputs(c, 300 + i);
    const attrs = { strides: c[3], pad: c[4], dataFormat: 'NHWC', filterShape: c[2] } as unknown as tf.NamedAttrMap;
    const expected = cpuKernel('Conv2DBackpropFilter', { x, dy }, attrs);
    for (const strategy of [byIm2col, byConvolution]) {
      await noLeaksWasm(() => {
        const backend = tf.backend() as BackendWasm;
        const xs = tf.tensor(x.values, x.shape);
        const dys = tf.tensor(dy.values, dy.shape);
        const out = strategy({ inputs: { x: xs, dy: dys }, backend, attrs });
        const got = backend.readSync(out.dataId) as Float32Array;
        backend.disposeData(out.dataId);
        tf.dispose([xs, dys]);
        assert.ok(relativeError(got, expected) < 1e-4, `${strategy.name} ${c[0]}`);
      });
    }
  }
});

test('rotateFilter turns W[kh, kw, ci, co] into W[KH-1-kh, KW-1-kw, co, ci]', async () => {
  await noLeaksWasm(() => {
    const backend = tf.backend() as BackendWasm;
    const w = tf.tensor4d(Array.from({ length: 2 * 3 * 2 * 4 }, (_, i) => i), [2, 3, 2, 4]);
    const out = rotateFilter(backend, w);
    assert.deepEqual(out.shape, [2, 3, 4, 2]);
    const got = backend.readSync(out.dataId) as Float32Array;
    backend.disposeData(out.dataId);
    const src = w.arraySync();
    w.dispose();
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) for (let o = 0; o < 4; o++) for (let i = 0; i < 2; i++) {
      assert.equal(got[((a * 3 + b) * 4 + o) * 2 + i], src[1 - a][2 - b][i][o]);
    }
  });
});

test('tf.conv2d gradients on wasm match cpu for stride 2, same padding, batch 3', async () => {
  const c: Case = ['grad', [3, 9, 8, 2], [3, 3, 2, 5], 2, 'same'];
  const { x, filter } = convInputs(c, 400);
  const f = (...[xs, ws]: tf.Tensor[]) => tf.sum(tf.square(tf.conv2d(xs as tf.Tensor4D, ws as tf.Tensor4D, 2, 'same')));
  const grads = (): Float32Array[] => tf.tidy(() => {
    const [dx, dw] = tf.grads(f)([tf.tensor4d(x.values, c[1]), tf.tensor4d(filter.values, c[2])]);
    return [dx.dataSync() as Float32Array, dw.dataSync() as Float32Array];
  });
  let onWasm: Float32Array[] = [];
  await noLeaksWasm(() => { onWasm = grads(); });
  await tf.setBackend('cpu');
  const onCpu = grads();
  await tf.setBackend('wasm');
  assert.ok(relativeError(onWasm[0], onCpu[0]) < 1e-4, 'dx');
  assert.ok(relativeError(onWasm[1], onCpu[1]) < 1e-4, 'dw');
});
