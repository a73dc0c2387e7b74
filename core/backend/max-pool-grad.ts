/**
 * `MaxPoolGrad` for the wasm backend, replacing the stock one, which is wrong:
 * in tfjs-backend-wasm 4.22 a pooling window whose values are all negative sends
 * its gradient to the window's first pixel instead of its maximum (the running
 * maximum starts at 0, not at minus infinity). Leaky ReLU before max pooling (the
 * paper uses it everywhere) produces such windows all the time.
 *
 * Like the cpu backend, the gradient of each output goes to the first maximum of
 * its window in row-major order; padding is never a maximum. One pass over the
 * wasm heap, channels innermost so that every read is contiguous.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Inputs of the `MaxPoolGrad` kernel: the output gradient and the forward input (the forward output is unused). */
interface Inputs {
  dy: tf.TensorInfo;
  input: tf.TensorInfo;
}

/** Attributes of the `MaxPoolGrad` kernel, as tfjs-core's maxPool gradient passes them. */
interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The input gradient of a 2-D max pooling (NHWC). */
export function maxPoolGradWasm(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as unknown as Inputs;
  const attrs = args.attrs as unknown as Attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
  );
  const { batchSize, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sH, strideWidth: sW } = info;
  const out = backend.makeOutput(input.shape, 'float32');
  // Views are taken after makeOutput, which may grow (and so detach) the heap.
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  if (info.padInfo.top === 0 && info.padInfo.left === 0 && fh === sH && fw === sW && oh * sH <= h && ow * sW <= w) {
    tilingWindows(x as Float32Array, g as Float32Array, dx as Float32Array, batchSize, h, w, c, oh, ow, fh, fw);
    return out;
  }
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < oh; r++) {
      const top = r * sH - info.padInfo.top;
      const rowFrom = Math.max(0, top);
      const rowTo = Math.min(h, top + info.effectiveFilterHeight);
      for (let q = 0; q < ow; q++) {
        const left = q * sW - info.padInfo.left;
        const colFrom = Math.max(0, left);
        const colTo = Math.min(w, left + info.effectiveFilterWidth);
        best.fill(Number.NEGATIVE_INFINITY);
        at.fill(-1);
        for (let y = rowFrom; y < rowTo; y++) {
          for (let xx = colFrom; xx < colTo; xx++) {
            const base = ((b * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) {
              const v = x[base + k];
              if (v > best[k]) {
                best[k] = v;
                at[k] = base + k;
              }
            }
          }
        }
        const gBase = ((b * oh + r) * ow + q) * c;
        for (let k = 0; k < c; k++) if (at[k] >= 0) dx[at[k]] += g[gBase + k];
      }
    }
  }
  return out;
}

/**
 * The common case of windows that tile the input (no padding, stride equal to the
 * window, as in every 2x2 pooling of stride 2): each input pixel lies in at most
 * one window, so the gradient is written, not accumulated, and one output's
 * window is scanned channel by channel without per-window scratch arrays. The
 * same rule as the general loop (first maximum in row-major order; a window of
 * NaN or minus infinity only sends nothing).
 */
function tilingWindows(
  x: Float32Array, g: Float32Array, dx: Float32Array,
  batchSize: number, h: number, w: number, c: number, oh: number, ow: number, fh: number, fw: number,
): void {
  const rowStride = w * c;
  for (let b = 0; b < batchSize; b++) {
    for (let r = 0; r < oh; r++) {
      const rowBase = (b * h + r * fh) * rowStride;
      let gBase = ((b * oh + r) * ow) * c;
      for (let q = 0; q < ow; q++, gBase += c) {
        const base = rowBase + q * fw * c;
        for (let k = 0; k < c; k++) {
          let at = -1;
          let best = Number.NEGATIVE_INFINITY;
          for (let y = 0; y < fh; y++) {
            let i = base + y * rowStride + k;
            for (let xx = 0; xx < fw; xx++, i += c) {
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = g[gBase + k];
        }
      }
    }
  }
}

/** The registered kernel: `MaxPoolGrad` on wasm (replaces the stock one). */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm as unknown as tf.KernelFunc,
};
