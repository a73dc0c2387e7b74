/**
 * What every masked layer shares: its parameters, its non-trainable state, a forward
 * pass that reads effective weights W*M, and its multiply-accumulate count.
 */
import * as tf from '../tf.ts';
import type { MaskedParam } from './masked-param.ts';

/** Options of one forward pass. */
export interface ForwardContext {
  /** Training mode: batch statistics in batch norm, dropout active. */
  training: boolean;
  /**
   * Effective weights by parameter name. Growth passes these in to take the
   * gradient with respect to W*M itself (dormant entries included); when a name is
   * absent the layer computes W*M from the parameter.
   */
  weights?: ReadonlyMap<string, tf.Tensor>;
  /** Running statistics to assign after the step (batch norm in training mode). */
  stateUpdates?: Array<{ variable: tf.Variable; value: tf.Tensor }>;
}

/**
 * W*M of a model's parameters by name, fixed for serving a version that no longer
 * trains (`MaskedModel.snapshotWeights`), and tensors derived from them once (a
 * convolution's cropped filter), all kept until `dispose`. On wasm a filter tensor
 * that is the same from call to call keeps XNNPACK's packed copy of it.
 */
export class WeightSnapshot extends Map<string, tf.Tensor> {
  private readonly made = new Map<string, tf.Tensor>();

  /** The tensor `make` returns, made on the first call for `key` and kept. */
  derived(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.made.get(key);
    if (t === undefined) {
      t = tf.keep(make());
      this.made.set(key, t);
    }
    return t;
  }

  /** Frees every tensor; the snapshot is empty afterwards. Idempotent. */
  dispose(): void {
    tf.dispose([...this.values(), ...this.made.values()]);
    this.clear();
    this.made.clear();
  }
}

export interface Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  /** Non-trainable state, e.g. batch-norm running mean and variance. */
  readonly state: tf.Variable[];
  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;
  /** Output shape (without batch) for an input shape (without batch). */
  outputShape(inputShape: number[]): number[];
  /** Multiply-accumulates per sample, by kernel parameter name, when all connections are live. */
  macs(inputShape: number[]): Record<string, number>;
  dispose(): void;
}

/** The effective weights of `p` for this pass. */
export function weightOf(p: MaskedParam, ctx: ForwardContext): tf.Tensor {
  return ctx.weights?.get(p.name) ?? p.effective();
}

/** Leaky ReLU with slope 0.01 (paper eq. 4), used everywhere so that no neuron dies. */
export function leaky(x: tf.Tensor): tf.Tensor {
  return tf.leakyRelu(x, 0.01);
}

/** He-normal initial values for a kernel with the given fan-in, seeded. */
export function heNormal(shape: number[], fanIn: number, seed?: number): tf.Tensor {
  return tf.truncatedNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
}
