/**
 * LeNet-300-100 (LeCun et al. 1998; paper section 5.1): an MLP with hidden layers of
 * 300 and 100 neurons and leaky ReLU (paper eq. 4). 266K parameters on MNIST.
 * Hidden widths are options, so the same file gives the small MLPs of the tests.
 */
import * as tf from '../tf.ts';
import { type ForwardContext, leaky } from '../sparse/layer.ts';
import { MaskedDense } from '../sparse/masked-dense.ts';
import { type DenseTail, MaskedModel, type ModelSpec } from './model.ts';
import { LENET300, listOption } from './options.ts';

export class LeNet300 extends MaskedModel {
  readonly layers: MaskedDense[];

  constructor(spec: ModelSpec) {
    super(spec);
    const hidden = listOption(spec.options?.hidden, LENET300.options.hidden.default);
    const density = Number(spec.options?.density ?? LENET300.options.density.default);
    const inUnits = spec.inputShape.reduce((a, b) => a * b, 1);
    const widths = [inUnits, ...hidden, spec.numClasses];
    this.layers = widths.slice(1).map((units, i) => new MaskedDense({
      name: `fc${i + 1}`, inUnits: widths[i], units, sendersAreNeurons: i > 0, density,
      seed: spec.seed === undefined ? undefined : spec.seed + i,
    }));
  }

  get head(): MaskedDense {
    return this.layers[this.layers.length - 1];
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      let h = x.reshape([x.shape[0], -1]);
      this.layers.forEach((layer, i) => {
        h = layer.apply(h, ctx);
        if (i < this.layers.length - 1) h = leaky(h);
      });
      return h;
    });
  }

  /** The whole network: the flattened input goes straight into fc1. */
  override denseTail(): DenseTail {
    return { layers: this.layers };
  }

  /** The whole network, in training as in inference. */
  override trainingChain(): MaskedDense[] {
    return this.layers;
  }

  kernelMacs(): Record<string, number> {
    return Object.assign({}, ...this.layers.map((l) => l.macs()));
  }
}
