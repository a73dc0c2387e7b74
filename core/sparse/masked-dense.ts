/**
 * Masked fully connected layer: y = x (W*M) + b (paper section 4.2.1).
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './masked-param.ts';
import { type ForwardContext, type Layer, heNormal, weightOf } from './layer.ts';
import { timesWeights } from './weight-product.ts';

export interface MaskedDenseArgs {
  /** Layer name, prefix of its parameter names. */
  name: string;
  /** Number of inputs. */
  inUnits: number;
  /** Number of output units. */
  units: number;
  /** Whether the inputs are neurons (false for the first layer: pixels or features). */
  sendersAreNeurons?: boolean;
  /** Initial density of the kernel: 1 is dense; below 1 a seeded random subset is live. */
  density?: number;
  /** Seed for the initial values and mask. */
  seed?: number;
}

export class MaskedDense implements Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  readonly state: tf.Variable[] = [];
  readonly kernel: MaskedParam;
  readonly bias: MaskedParam;
  readonly inUnits: number;
  units: number;

  constructor(args: MaskedDenseArgs) {
    this.name = args.name;
    this.inUnits = args.inUnits;
    this.units = args.units;
    const shape = [args.inUnits, args.units];
    const mask = args.density !== undefined && args.density < 1
      ? tf.tidy(() => tf.randomUniform(shape, 0, 1, 'float32', args.seed).less(args.density as number).toFloat())
      : undefined;
    this.kernel = new MaskedParam({
      name: `${args.name}/kernel`, layer: args.name, kind: 'kernel',
      init: heNormal(shape, args.inUnits, args.seed), mask, inAxis: 0, outAxis: 1,
      sendersAreNeurons: args.sendersAreNeurons ?? true,
    });
    this.bias = new MaskedParam({ name: `${args.name}/bias`, layer: args.name, kind: 'bias', init: tf.zeros([args.units]) });
    this.params = [this.kernel, this.bias];
  }

  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const flat = (x.rank === 2 ? x : x.reshape([x.shape[0], -1])) as tf.Tensor2D;
      const w = weightOf(this.kernel, ctx) as tf.Tensor2D;
      // Inference: W*M is new on every call, so on wasm the product runs with roles
      // swapped (core/sparse/weight-product.ts; equal values). Training keeps tfjs's
      // own product, whose gradient the tape records.
      const product = ctx.training ? tf.matMul(flat, w) : timesWeights(flat, w);
      return product.add(weightOf(this.bias, ctx));
    });
  }

  /** Adds `count` output units whose incoming connections start dormant (mask 0) and whose biases start at 0. */
  addUnits(count: number): void {
    const [value, mask] = tf.tidy(() => [
      tf.concat([this.kernel.value, tf.zeros([this.inUnits, count])], 1),
      tf.concat([this.kernel.mask, tf.zeros([this.inUnits, count])], 1),
    ]);
    this.kernel.replace(value, mask);
    const [b, bm] = tf.tidy(() => [tf.concat([this.bias.value, tf.zeros([count])]), tf.ones([this.units + count])]);
    this.bias.replace(b, bm);
    this.units += count;
  }

  outputShape(): number[] {
    return [this.units];
  }

  macs(): Record<string, number> {
    return { [this.kernel.name]: this.inUnits * this.units };
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

export function maskedDense(args: MaskedDenseArgs): MaskedDense {
  return new MaskedDense(args);
}
