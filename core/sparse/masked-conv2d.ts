/**
 * Masked 2-D convolution, NHWC, kernel [kh, kw, inChannels, filters]. A filter is
 * the receiving unit (outAxis 3); an input channel is the sending unit (inAxis 2).
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './masked-param.ts';
import { type ForwardContext, type Layer, WeightSnapshot, heNormal, weightOf } from './layer.ts';

export interface MaskedConv2dArgs {
  /** Layer name, prefix of its parameter names. */
  name: string;
  /** Channels of the input. */
  inChannels: number;
  /** Number of filters (output channels). */
  filters: number;
  /** Square kernel size. */
  kernelSize: number;
  /** Stride in both directions. */
  strides?: number;
  /** `same` or `valid` padding. */
  padding?: 'same' | 'valid';
  /** Whether the layer has a bias (false before batch norm). */
  useBias?: boolean;
  /** Whether the input channels are neurons (false for the first layer). */
  sendersAreNeurons?: boolean;
  /** Seed for the initial values. */
  seed?: number;
}

export class MaskedConv2d implements Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  readonly state: tf.Variable[] = [];
  readonly kernel: MaskedParam;
  readonly bias: MaskedParam | null;
  readonly strides: number;
  readonly padding: 'same' | 'valid';
  readonly kernelSize: number;
  readonly filters: number;
  readonly inChannels: number;

  constructor(args: MaskedConv2dArgs) {
    this.name = args.name;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'same';
    this.kernelSize = args.kernelSize;
    this.filters = args.filters;
    this.inChannels = args.inChannels;
    const shape = [args.kernelSize, args.kernelSize, args.inChannels, args.filters];
    this.kernel = new MaskedParam({
      name: `${args.name}/kernel`, layer: args.name, kind: 'kernel',
      init: heNormal(shape, args.kernelSize * args.kernelSize * args.inChannels, args.seed),
      inAxis: 2, outAxis: 3, sendersAreNeurons: args.sendersAreNeurons ?? true,
    });
    this.bias = args.useBias === false ? null
      : new MaskedParam({ name: `${args.name}/bias`, layer: args.name, kind: 'bias', init: tf.zeros([args.filters]) });
    this.params = this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      let filter = weightOf(this.kernel, ctx) as tf.Tensor4D;
      let padding = this.padding;
      const crop = this.padding === 'same' ? sameAsValidCrop(x.shape[1] as number, x.shape[2] as number, this.kernelSize, this.strides) : null;
      if (crop !== null) {
        // Taps that only ever meet padding contribute nothing: the same convolution on
        // the taps that meet the input, without padding (`sameAsValidCrop` below). The
        // gradient of the slice gives those taps zero, their true gradient.
        const full = filter;
        const cut = () => tf.slice(full, [crop.top, crop.left, 0, 0], [crop.height, crop.width, -1, -1]);
        // Serving from a snapshot: cropped once, the same tensor every call.
        filter = (ctx.weights instanceof WeightSnapshot
          ? ctx.weights.derived(`${this.kernel.name}@${crop.top},${crop.left}:${crop.height}x${crop.width}`, cut)
          : cut()) as tf.Tensor4D;
        padding = 'valid';
      }
      const y = tf.conv2d(x as tf.Tensor4D, filter, this.strides, padding);
      return this.bias ? y.add(weightOf(this.bias, ctx)) : y;
    });
  }

  outputShape(inputShape: number[]): number[] {
    const [h, w] = inputShape;
    const out = (n: number) => this.padding === 'same'
      ? Math.ceil(n / this.strides)
      : Math.ceil((n - this.kernelSize + 1) / this.strides);
    return [out(h), out(w), this.filters];
  }

  macs(inputShape: number[]): Record<string, number> {
    const [oh, ow] = this.outputShape(inputShape);
    return { [this.kernel.name]: oh * ow * this.kernelSize * this.kernelSize * this.inChannels * this.filters };
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

/** The taps of one spatial axis that meet the input, when a 'same' convolution equals a 'valid' one on them. */
function cropAxis(n: number, k: number, s: number): { start: number; size: number } | null {
  const out = Math.ceil(n / s);
  const before = Math.floor(Math.max((out - 1) * s + k - n, 0) / 2);
  // Tap t of output o reads input o*s + t - before: used iff that is in [0, n) for some o.
  const lo = Math.max(0, before - (out - 1) * s);
  const hi = Math.min(k - 1, n - 1 + before);
  const size = hi - lo + 1;
  // A valid convolution with the used taps reads input o*s + t' + (lo - before): the same
  // reads when lo = before, and the same outputs when every window fits.
  if (lo !== before || (out - 1) * s + size > n) return null;
  return { start: lo, size };
}

/**
 * A 'same' convolution of an h x w input whose kernel reaches past the input on every
 * side, as a 'valid' one on the taps that meet it, or null when there is no such crop
 * (every tap is used, or the used ones need padding). ResNet-18 on 32x32 images runs
 * its last stage on 1x1 maps, where a 3x3 kernel uses its centre only (a ninth of the
 * work), and the stride-2 step into it on 2x2 maps (four taps of nine).
 */
export function sameAsValidCrop(h: number, w: number, kernelSize: number, strides: number): { top: number; left: number; height: number; width: number } | null {
  const rows = cropAxis(h, kernelSize, strides);
  const cols = cropAxis(w, kernelSize, strides);
  if (rows === null || cols === null || (rows.size === kernelSize && cols.size === kernelSize)) return null;
  return { top: rows.start, left: cols.start, height: rows.size, width: cols.size };
}

export function maskedConv2d(args: MaskedConv2dArgs): MaskedConv2d {
  return new MaskedConv2d(args);
}
