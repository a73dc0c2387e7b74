/**
 * Masked 2-D convolution, NHWC, kernel [kh, kw, inChannels, filters]. A filter is
 * the receiving unit (outAxis 3); an input channel is the sending unit (inAxis 2).
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './masked-param.ts';
import { type ForwardContext, type Layer, heNormal, weightOf } from './layer.ts';

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
      const y = tf.conv2d(x as tf.Tensor4D, weightOf(this.kernel, ctx) as tf.Tensor4D, this.strides, this.padding);
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

export function maskedConv2d(args: MaskedConv2dArgs): MaskedConv2d {
  return new MaskedConv2d(args);
}
