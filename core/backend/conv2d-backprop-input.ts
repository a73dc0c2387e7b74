/**
 * `Conv2DBackpropInput` for the wasm backend, replacing the stock one: the
 * gradient of a 2-D convolution with respect to its input.
 *
 * tfjs-backend-wasm 4.22 computes it with scalar loops, 8 to 16 times slower than
 * the forward convolution of the same layer (`bench/results/gemm.md`), so it
 * dominated a training step. This version runs on XNNPACK's convolution: the
 * input gradient is the correlation of the output gradient, dilated by the
 * forward stride (zeros between its pixels), with the filter rotated by 180
 * degrees and its channel axes swapped:
 *
 *   dx[b, i, j, ci] = sum over kh, kw, co of
 *                     dyDilated[b, i + pTop - kh, j + pLeft - kw, co] * W[kh, kw, ci, co]
 *
 * which is a stride-1 convolution with `KH - 1 - pTop` rows of padding above.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeAll, runWasmKernel } from './wasm-kernel-utils.ts';

/** Inputs of the `Conv2DBackpropInput` kernel. */
interface Inputs {
  dy: tf.TensorInfo;
  filter: tf.TensorInfo;
}

/** Attributes of the `Conv2DBackpropInput` kernel, as tfjs-core's conv2d gradient passes them. */
interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** Interleaves `stride - 1` zero rows/columns after every pixel of dy (B, OH*sH, OW*sW, co). */
function dilate(backend: BackendWasm, dy: tf.TensorInfo, sH: number, sW: number, temps: tf.TensorInfo[]): tf.TensorInfo {
  if (sH === 1 && sW === 1) return dy;
  const [b, oh, ow, co] = dy.shape;
  const r6 = runWasmKernel(backend, tf.Reshape, { x: dy }, { shape: [b, oh, 1, ow, 1, co] });
  temps.push(r6);
  const padded = runWasmKernel(backend, tf.PadV2, { x: r6 }, {
    paddings: [[0, 0], [0, 0], [0, sH - 1], [0, 0], [0, sW - 1], [0, 0]], constantValue: 0,
  });
  temps.push(padded);
  const out = runWasmKernel(backend, tf.Reshape, { x: padded }, { shape: [b, oh * sH, ow * sW, co] });
  temps.push(out);
  return out;
}

/**
 * The filter rotated by 180 degrees with its channel axes swapped, (KH, KW, co, ci),
 * in one pass over the wasm heap: the stock `Reverse` kernel moves one element
 * at a time and took longer than the whole convolution on 3x3x512x512 filters.
 */
export function rotateFilter(backend: BackendWasm, filter: tf.TensorInfo): tf.TensorInfo {
  const [kH, kW, ci, co] = filter.shape;
  const out = backend.makeOutput([kH, kW, co, ci], 'float32');
  // Views are taken after makeOutput, which may grow (and so detach) the heap.
  const src = backend.typedArrayFromHeap(filter);
  const dst = backend.typedArrayFromHeap(out);
  const block = ci * co;
  for (let a = 0; a < kH; a++) {
    for (let b = 0; b < kW; b++) {
      const from = ((kH - 1 - a) * kW + (kW - 1 - b)) * block;
      const to = (a * kW + b) * block;
      for (let i = 0; i < ci; i++) {
        const row = from + i * co;
        for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[row + o];
      }
    }
  }
  return out;
}

/** The input gradient of a 2-D convolution (NHWC) on XNNPACK. */
export function conv2DBackpropInputWasm(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as unknown as Inputs;
  const attrs = args.attrs as unknown as Attrs;
  if (attrs.dataFormat !== 'NHWC') {
    throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm Conv2DBackpropInput supports dataFormat 'NHWC' only, got '${attrs.dataFormat}'`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
  );
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== info.outChannels) {
    throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm Conv2DBackpropInput: dy shape [${dy.shape.join(', ')}] does not match the convolution output [${info.outShape.join(', ')}]`);
  }
  const { strideHeight: sH, strideWidth: sW, filterHeight: kH, filterWidth: kW } = info;
  const temps: tf.TensorInfo[] = [];
  try {
    let dyd = dilate(backend, dy, sH, sW, temps);
    // Rows of padding around the dilated dy; its trailing (stride - 1) zero rows count towards the bottom.
    const top = kH - 1 - info.padInfo.top;
    const left = kW - 1 - info.padInfo.left;
    const bottom = info.inHeight + kH - 1 - dyd.shape[1] - top;
    const right = info.inWidth + kW - 1 - dyd.shape[2] - left;
    if (top < 0 || left < 0 || bottom < 0 || right < 0) {
      const begin = [0, Math.max(-top, 0), Math.max(-left, 0), 0];
      const size = [dyd.shape[0], dyd.shape[1] - begin[1] - Math.max(-bottom, 0), dyd.shape[2] - begin[2] - Math.max(-right, 0), dyd.shape[3]];
      dyd = runWasmKernel(backend, tf.Slice, { x: dyd }, { begin, size });
      temps.push(dyd);
    }
    const wT = rotateFilter(backend, filter);
    temps.push(wT);
    return runWasmKernel(backend, tf.Conv2D, { x: dyd, filter: wT }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]],
      dataFormat: 'NHWC',
    });
  } finally {
    disposeAll(backend, temps);
  }
}

/** The registered kernel: `Conv2DBackpropInput` on wasm (replaces the stock one). */
export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc,
};
