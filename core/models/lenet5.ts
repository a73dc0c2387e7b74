/**
 * LeNet-5 (LeCun et al. 1998; paper section 5.1): conv 5x5x6 ('same' on 28x28, as
 * the original's 32x32 padding), 2x2 max pool, conv 5x5x16 ('valid'), 2x2 max pool,
 * FC 120, FC 84, FC classes; leaky ReLU throughout. About 61.7K parameters on MNIST.
 */
import * as tf from '../tf.ts';
import { type ForwardContext, type Layer, leaky } from '../sparse/layer.ts';
import { MaskedConv2d } from '../sparse/masked-conv2d.ts';
import { MaskedDense } from '../sparse/masked-dense.ts';
import { type DenseTail, MaskedModel, type ModelSpec } from './model.ts';

export class LeNet5 extends MaskedModel {
  readonly layers: Layer[];
  readonly conv1: MaskedConv2d;
  readonly conv2: MaskedConv2d;
  readonly fcs: MaskedDense[];

  constructor(spec: ModelSpec) {
    super(spec);
    const [h, w, c] = spec.inputShape;
    const seed = (i: number) => (spec.seed === undefined ? undefined : spec.seed + i);
    this.conv1 = new MaskedConv2d({ name: 'conv1', inChannels: c, filters: 6, kernelSize: 5, padding: 'same', sendersAreNeurons: false, seed: seed(0) });
    this.conv2 = new MaskedConv2d({ name: 'conv2', inChannels: 6, filters: 16, kernelSize: 5, padding: 'valid', seed: seed(1) });
    const [h2, w2] = this.conv2.outputShape([Math.floor(h / 2), Math.floor(w / 2), 6]);
    const flat = Math.floor(h2 / 2) * Math.floor(w2 / 2) * 16;
    const widths = [flat, 120, 84, spec.numClasses];
    this.fcs = widths.slice(1).map((units, i) => new MaskedDense({ name: `fc${i + 1}`, inUnits: widths[i], units, seed: seed(2 + i) }));
    this.layers = [this.conv1, this.conv2, ...this.fcs];
  }

  get head(): MaskedDense {
    return this.fcs[this.fcs.length - 1];
  }

  /** The convolutional part: [B, h, w, c] -> flattened pooled features [B, flat]. */
  features(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      let h = tf.maxPool(leaky(this.conv1.apply(x, ctx)) as tf.Tensor4D, 2, 2, 'valid');
      h = tf.maxPool(leaky(this.conv2.apply(h, ctx)) as tf.Tensor4D, 2, 2, 'valid');
      return h.reshape([h.shape[0], -1]);
    });
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      let z = this.features(x, ctx);
      this.fcs.forEach((fc, i) => {
        z = fc.apply(z, ctx);
        if (i < this.fcs.length - 1) z = leaky(z);
      });
      return z;
    });
  }

  /** The three fully connected layers after the convolutions (which stay in tfjs). */
  override denseTail(): DenseTail {
    return { prefix: (x, weights) => this.features(x, { training: false, ...(weights && { weights }) }), layers: this.fcs };
  }

  kernelMacs(): Record<string, number> {
    const [h, w, c] = this.spec.inputShape;
    const s2 = [Math.floor(h / 2), Math.floor(w / 2), 6];
    return Object.assign({}, this.conv1.macs([h, w, c]), this.conv2.macs(s2), ...this.fcs.map((f) => f.macs()));
  }
}
