/**
 * ResNet-18 (He et al. 2016; paper section 5.2) with masked convolutions, batch norm
 * and residual connections: a 7x7/2 stem with 3x3/2 max pool (option `stem: cifar`
 * gives the 3x3/1 stem without pooling for small inputs), four stages of two basic
 * blocks with 64, 128, 256, 512 filters (times `width`/64), global average pooling
 * and a masked classifier. 11.69M parameters at 224x224 with 1000 classes.
 * Leaky ReLU (paper eq. 4) replaces ReLU.
 */
import * as tf from '../tf.ts';
import { type ForwardContext, type Layer, leaky } from '../sparse/layer.ts';
import { MaskedConv2d } from '../sparse/masked-conv2d.ts';
import { MaskedDense } from '../sparse/masked-dense.ts';
import { BatchNorm } from '../sparse/batch-norm.ts';
import { MaskedModel, type ModelSpec } from './model.ts';
import { RESNET18 } from './options.ts';

interface Block {
  conv1: MaskedConv2d;
  bn1: BatchNorm;
  conv2: MaskedConv2d;
  bn2: BatchNorm;
  down?: { conv: MaskedConv2d; bn: BatchNorm };
}

export class ResNet18 extends MaskedModel {
  readonly layers: Layer[] = [];
  private readonly stem: { conv: MaskedConv2d; bn: BatchNorm; pool: boolean };
  private readonly blocks: Block[] = [];
  private readonly fc: MaskedDense;

  constructor(spec: ModelSpec) {
    super(spec);
    const width = Number(spec.options?.width ?? RESNET18.options.width.default);
    const cifar = String(spec.options?.stem ?? RESNET18.options.stem.default) === 'cifar';
    let seed = spec.seed ?? 0;
    const conv = (name: string, inChannels: number, filters: number, kernelSize: number, strides: number, first = false) => {
      const c = new MaskedConv2d({ name, inChannels, filters, kernelSize, strides, padding: 'same', useBias: false, sendersAreNeurons: !first, seed: seed++ });
      this.layers.push(c);
      return c;
    };
    const bn = (name: string, channels: number) => {
      const b = new BatchNorm({ name, channels });
      this.layers.push(b);
      return b;
    };
    const c0 = spec.inputShape[2];
    this.stem = cifar
      ? { conv: conv('stem', c0, width, 3, 1, true), bn: bn('stem_bn', width), pool: false }
      : { conv: conv('stem', c0, width, 7, 2, true), bn: bn('stem_bn', width), pool: true };
    let inC = width;
    [1, 2, 4, 8].forEach((mult, s) => {
      for (let b = 0; b < 2; b++) {
        const outC = width * mult;
        const stride = s > 0 && b === 0 ? 2 : 1;
        const name = `s${s + 1}b${b + 1}`;
        const block: Block = {
          conv1: conv(`${name}_conv1`, inC, outC, 3, stride),
          bn1: bn(`${name}_bn1`, outC),
          conv2: conv(`${name}_conv2`, outC, outC, 3, 1),
          bn2: bn(`${name}_bn2`, outC),
        };
        if (stride !== 1 || inC !== outC) block.down = { conv: conv(`${name}_down`, inC, outC, 1, stride), bn: bn(`${name}_down_bn`, outC) };
        this.blocks.push(block);
        inC = outC;
      }
    });
    this.fc = new MaskedDense({ name: 'fc', inUnits: inC, units: spec.numClasses, seed: seed++ });
    this.layers.push(this.fc);
  }

  get head(): MaskedDense {
    return this.fc;
  }

  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      let h = leaky(this.stem.bn.apply(this.stem.conv.apply(x, ctx), ctx));
      if (this.stem.pool) h = tf.maxPool(h as tf.Tensor4D, 3, 2, 'same');
      for (const b of this.blocks) {
        const y = this.bnConv(b.conv2, b.bn2, leaky(this.bnConv(b.conv1, b.bn1, h, ctx)), ctx);
        const skip = b.down ? this.bnConv(b.down.conv, b.down.bn, h, ctx) : h;
        h = leaky(y.add(skip));
      }
      return this.fc.apply(h.mean([1, 2]), ctx);
    });
  }

  private bnConv(conv: MaskedConv2d, bn: BatchNorm, x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return bn.apply(conv.apply(x, ctx), ctx);
  }

  kernelMacs(): Record<string, number> {
    const macs: Record<string, number> = {};
    let shape = this.spec.inputShape;
    const add = (c: MaskedConv2d, s: number[]) => {
      Object.assign(macs, c.macs(s));
      return c.outputShape(s);
    };
    shape = add(this.stem.conv, shape);
    if (this.stem.pool) shape = [Math.ceil(shape[0] / 2), Math.ceil(shape[1] / 2), shape[2]];
    for (const b of this.blocks) {
      const mid = add(b.conv1, shape);
      if (b.down) add(b.down.conv, shape);
      shape = add(b.conv2, mid);
    }
    Object.assign(macs, this.fc.macs());
    return macs;
  }
}
