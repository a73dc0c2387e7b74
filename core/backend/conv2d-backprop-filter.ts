/**
 * `Conv2DBackpropFilter` for the wasm backend, which tfjs-backend-wasm 4.22 lacks:
 * the gradient of a 2-D convolution with respect to its filter, which every
 * training step of a convolutional network needs.
 *
 * For a forward convolution with stride s and top/left padding p,
 *
 *   dW[kh, kw, ci, co] = sum over b, oh, ow of
 *                        x[b, oh*sH + kh - pTop, ow*sW + kw - pLeft, ci] * dy[b, oh, ow, co]
 *
 * Two compositions of existing wasm kernels compute it:
 *
 * - `byConvolution`: a convolution of the transposed input `x^T` ([ci, H, W, B],
 *   the batch becomes the channels) with the transposed output gradient `dy^T`
 *   ([OH, OW, B, co], a filter dilated by the forward stride), giving
 *   [ci, KH, KW, co], then transposed to [KH, KW, ci, co]. It runs on XNNPACK's
 *   convolution and needs no extra memory beyond two transposed copies.
 * - `byIm2col`: gathers the KH*KW strided windows of the (padded) input into an
 *   [B*OH*OW, KH*KW*ci] patch matrix and multiplies its transpose with dy
 *   reshaped to [B*OH*OW, co]. Memory grows with KH*KW.
 *
 * Measured on LeNet-5 and ResNet-18 layer shapes (`bench/gemm.ts`,
 * `bench/results/gemm.md`), the convolution is 3 to 90 times faster for strided
 * layers and for up to 128 input channels (im2col's strided gathers are slow), while
 * im2col is 1.1 to 1.7 times faster for stride-1 layers with 256 or more input
 * channels (the convolution then runs on only B channels per image). The
 * registered kernel picks accordingly (`useIm2col`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { disposeAll, runWasmKernel } from './wasm-kernel-utils.ts';

/** Inputs of the `Conv2DBackpropFilter` kernel (the forward input and the output gradient). */
interface Inputs {
  x: tf.TensorInfo;
  dy: tf.TensorInfo;
}

/** Attributes of the `Conv2DBackpropFilter` kernel, as tfjs-core's conv2d gradient passes them. */
interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Geometry shared by both strategies: padding after the input, negative when rows/columns go unused. */
interface Geometry {
  info: tf.backend_util.Conv2DInfo;
  /** Padding needed below the input so the last window fits; negative: rows never read. */
  bottom: number;
  /** Padding needed right of the input; negative: columns never read. */
  right: number;
}

function geometry(x: tf.TensorInfo, dy: tf.TensorInfo, attrs: Attrs): Geometry {
  if (attrs.dataFormat !== 'NHWC') {
    throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, got '${attrs.dataFormat}'`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
  );
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== info.outChannels) {
    throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm Conv2DBackpropFilter: dy shape [${dy.shape.join(', ')}] does not match the convolution output [${info.outShape.join(', ')}]`);
  }
  const needH = info.filterHeight + (info.outHeight - 1) * info.strideHeight;
  const needW = info.filterWidth + (info.outWidth - 1) * info.strideWidth;
  return { info, bottom: needH - info.inHeight - info.padInfo.top, right: needW - info.inWidth - info.padInfo.left };
}

/** Drops the rows and columns of x that no window reads (when `bottom`/`right` are negative). */
function trimUnused(backend: BackendWasm, x: tf.TensorInfo, g: Geometry, temps: tf.TensorInfo[]): tf.TensorInfo {
  if (g.bottom >= 0 && g.right >= 0) return x;
  const [b, h, w, c] = x.shape;
  const trimmed = runWasmKernel(backend, tf.Slice, { x }, {
    begin: [0, 0, 0, 0], size: [b, h + Math.min(g.bottom, 0), w + Math.min(g.right, 0), c],
  });
  temps.push(trimmed);
  return trimmed;
}

/** Filter gradient as a convolution of x^T with dy^T (dilated by the forward stride). */
export function byConvolution(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as unknown as Inputs;
  const g = geometry(x, dy, args.attrs as unknown as Attrs);
  const { info } = g;
  const temps: tf.TensorInfo[] = [];
  try {
    const xUsed = trimUnused(backend, x, g, temps);
    // (ci, H, W, B): channels become the batch, the batch becomes the channels.
    const xT = runWasmKernel(backend, tf.Transpose, { x: xUsed }, { perm: [3, 1, 2, 0] });
    temps.push(xT);
    // (OH, OW, B, co): the output gradient as a filter over the batch.
    const dyT = runWasmKernel(backend, tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    temps.push(dyT);
    // (ci, KH, KW, co)
    const conv = runWasmKernel(backend, tf.Conv2D, { x: xT, filter: dyT }, {
      strides: [1, 1],
      dilations: [info.strideHeight, info.strideWidth],
      pad: [[0, 0], [info.padInfo.top, Math.max(g.bottom, 0)], [info.padInfo.left, Math.max(g.right, 0)], [0, 0]],
      dataFormat: 'NHWC',
    });
    temps.push(conv);
    return runWasmKernel(backend, tf.Transpose, { x: conv }, { perm: [1, 2, 0, 3] });
  } finally {
    disposeAll(backend, temps);
  }
}

/** Filter gradient as (im2col(x))^T @ dy. */
export function byIm2col(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as unknown as Inputs;
  const g = geometry(x, dy, args.attrs as unknown as Attrs);
  const { info } = g;
  const temps: tf.TensorInfo[] = [];
  try {
    let xp = trimUnused(backend, x, g, temps);
    const pads = [info.padInfo.top, Math.max(g.bottom, 0), info.padInfo.left, Math.max(g.right, 0)];
    if (pads.some((p) => p > 0)) {
      xp = runWasmKernel(backend, tf.PadV2, { x: xp }, { paddings: [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]], constantValue: 0 });
      temps.push(xp);
    }
    const [b, , , c] = x.shape;
    const windows: tf.TensorInfo[] = [];
    for (let kh = 0; kh < info.filterHeight; kh++) {
      for (let kw = 0; kw < info.filterWidth; kw++) {
        // (B, OH, OW, ci): the input pixels that filter tap (kh, kw) multiplies.
        const w = runWasmKernel(backend, tf.StridedSlice, { x: xp }, {
          begin: [0, kh, kw, 0],
          end: [b, kh + (info.outHeight - 1) * info.strideHeight + 1, kw + (info.outWidth - 1) * info.strideWidth + 1, c],
          strides: [1, info.strideHeight, info.strideWidth, 1],
          beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        });
        windows.push(w);
        temps.push(w);
      }
    }
    // (B, OH, OW, KH*KW*ci), taps in filter order (kh, kw, ci).
    const cols = windows.length === 1
      ? windows[0]
      : runWasmKernel(backend, tf.Concat, windows as unknown as tf.NamedTensorInfoMap, { axis: 3 });
    if (cols !== windows[0]) temps.push(cols);
    const rows = b * info.outHeight * info.outWidth;
    const patches = runWasmKernel(backend, tf.Reshape, { x: cols }, { shape: [rows, info.filterHeight * info.filterWidth * c] });
    temps.push(patches);
    const dy2 = runWasmKernel(backend, tf.Reshape, { x: dy }, { shape: [rows, info.outChannels] });
    temps.push(dy2);
    const prod = runWasmKernel(backend, tf.BatchMatMul, { a: patches, b: dy2 }, { transposeA: true, transposeB: false });
    temps.push(prod);
    return runWasmKernel(backend, tf.Reshape, { x: prod }, { shape: attrs(args).filterShape });
  } finally {
    disposeAll(backend, temps);
  }
}

function attrs(args: { attrs: tf.NamedAttrMap }): Attrs {
  return args.attrs as unknown as Attrs;
}

/** Whether the im2col strategy is the faster for this layer: stride 1 and at least 256 input channels. */
export function useIm2col(xShape: readonly number[], attrs: tf.NamedAttrMap): boolean {
  const { strides } = attrs as unknown as Attrs;
  const [sH, sW] = typeof strides === 'number' ? [strides, strides] : strides;
  return sH === 1 && sW === 1 && xShape[3] >= 256;
}

/** The filter gradient by the faster strategy for the layer's shape. */
export function conv2DBackpropFilterWasm(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x } = args.inputs as unknown as Inputs;
  return useIm2col(x.shape, args.attrs) ? byIm2col(args) : byConvolution(args);
}

/** The registered kernel: `Conv2DBackpropFilter` on wasm. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};
