/**
 * Batch normalisation over the channel axis (last). Scale and shift are dense
 * parameters (never grown or pruned); running statistics are state.
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './masked-param.ts';
import { type ForwardContext, type Layer, weightOf } from './layer.ts';

export interface BatchNormArgs {
  /** Layer name. */
  name: string;
  /** Number of channels. */
  channels: number;
  /** Running-statistics momentum (fraction kept). */
  momentum?: number;
  /** Added to the variance. */
  epsilon?: number;
}

export class BatchNorm implements Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  readonly state: tf.Variable[];
  readonly gamma: MaskedParam;
  readonly beta: MaskedParam;
  readonly movingMean: tf.Variable;
  readonly movingVariance: tf.Variable;
  readonly momentum: number;
  readonly epsilon: number;

  constructor(args: BatchNormArgs) {
    this.name = args.name;
    this.momentum = args.momentum ?? 0.9;
    this.epsilon = args.epsilon ?? 1e-5;
    this.gamma = new MaskedParam({ name: `${args.name}/gamma`, layer: args.name, kind: 'scale', init: tf.ones([args.channels]) });
    this.beta = new MaskedParam({ name: `${args.name}/beta`, layer: args.name, kind: 'bias', init: tf.zeros([args.channels]) });
    this.movingMean = tf.ownedVariable(tf.zeros([args.channels]));
    this.movingVariance = tf.ownedVariable(tf.ones([args.channels]));
    this.params = [this.gamma, this.beta];
    this.state = [this.movingMean, this.movingVariance];
  }

  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => {
      const gamma = weightOf(this.gamma, ctx);
      const beta = weightOf(this.beta, ctx);
      if (!ctx.training) {
        return tf.batchNorm(x, this.movingMean, this.movingVariance, beta, gamma, this.epsilon);
      }
      const axes = x.shape.map((_, i) => i).slice(0, -1);
      const { mean, variance } = tf.moments(x, axes);
      if (ctx.stateUpdates) {
        const m = this.momentum;
        ctx.stateUpdates.push(
          { variable: this.movingMean, value: tf.keep(this.movingMean.mul(m).add(mean.mul(1 - m))) },
          { variable: this.movingVariance, value: tf.keep(this.movingVariance.mul(m).add(variance.mul(1 - m))) },
        );
      }
      return x.sub(mean).div(variance.add(this.epsilon).sqrt()).mul(gamma).add(beta);
    });
  }

  outputShape(inputShape: number[]): number[] {
    return inputShape;
  }

  macs(): Record<string, number> {
    return {};
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
    this.movingMean.dispose();
    this.movingVariance.dispose();
  }
}

export function batchNorm(args: BatchNormArgs): BatchNorm {
  return new BatchNorm(args);
}
