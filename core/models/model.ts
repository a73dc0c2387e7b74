/**
 * The model abstraction every strategy works on: a set of masked layers, a forward
 * pass, and the bookkeeping growth, pruning and cost accounting need.
 */
import * as tf from '../tf.ts';
import { type ForwardContext, type Layer, WeightSnapshot } from '../sparse/layer.ts';
import type { MaskedParam } from '../sparse/masked-param.ts';
import type { MaskedDense } from '../sparse/masked-dense.ts';
import type { ModelOptions } from './options.ts';

/** Enough to rebuild a model of the same architecture (saved with the weights). */
export interface ModelSpec {
  /** Architecture name: `lenet300`, `lenet5`, `resnet18`, `mlp`, `ds2`. */
  arch: string;
  /** Per-sample input shape, e.g. [28, 28, 1]. */
  inputShape: number[];
  /** Number of output classes. */
  numClasses: number;
  /** Architecture options (widths, initial density, ...; core/models/options.ts lists each model's). */
  options?: ModelOptions;
  /** Seed of the initial values. */
  seed?: number;
}

/**
 * The chain of fully connected layers that ends a model, for inference outside
 * tfjs (core/sparse/sparse-inference.ts): `forward` in inference mode equals
 * `prefix` followed by the layers, with leaky ReLU between consecutive layers
 * and none after the last.
 */
export interface DenseTail {
  /**
   * Runs what comes before the chain, in inference mode, to [B, features]; absent when the
   * chain takes the flattened input. `weights` (a `snapshotWeights`) stands in for W*M.
   */
  prefix?: (x: tf.Tensor, weights?: ReadonlyMap<string, tf.Tensor>) => tf.Tensor;
  /** The chain's layers, input to output. */
  layers: MaskedDense[];
}

/** Live and total connection counts of one layer. */
export interface LayerCount {
  layer: string;
  live: number;
  total: number;
}

export abstract class MaskedModel {
  readonly spec: ModelSpec;
  abstract readonly layers: Layer[];

  constructor(spec: ModelSpec) {
    this.spec = { ...spec, inputShape: [...spec.inputShape] };
  }

  /** Logits for a batch [B, ...inputShape]. */
  abstract forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor;

  /** The classifier layer whose output units grow when a new class arrives. */
  abstract get head(): MaskedDense;

  /** Multiply-accumulates per sample, by kernel name, when dense. */
  abstract kernelMacs(): Record<string, number>;

  /** The fully connected chain that ends the model, or null when it has none that can run alone. */
  denseTail(): DenseTail | null {
    return null;
  }

  /**
   * The layers, when the whole model is one chain of masked dense layers in training
   * mode as well (the flattened input into the first, leaky ReLU between consecutive
   * layers, none after the last; no dropout, no state): core/train/dense-chain.ts
   * then differentiates it by hand. Null otherwise.
   */
  trainingChain(): MaskedDense[] | null {
    return null;
  }

  get params(): MaskedParam[] {
    return this.layers.flatMap((l) => l.params);
  }

  /** Grown and pruned tensors. */
  get kernels(): MaskedParam[] {
    return this.params.filter((p) => p.sparse);
  }

  get state(): tf.Variable[] {
    return this.layers.flatMap((l) => l.state);
  }

  get numClasses(): number {
    return this.spec.numClasses;
  }

  /** Live connections per layer (kernels and biases). */
  layerCounts(): LayerCount[] {
    const live = this.liveByParam();
    const byLayer = new Map<string, LayerCount>();
    for (const p of this.params) {
      const c = byLayer.get(p.layer) ?? { layer: p.layer, live: 0, total: 0 };
      c.live += live.get(p.name) ?? 0;
      c.total += p.size;
      byLayer.set(p.layer, c);
    }
    return [...byLayer.values()];
  }

  /** Live connections including biases (the paper's "#Parameters"). */
  liveParams(): number {
    let n = 0;
    for (const v of this.liveByParam().values()) n += v;
    return n;
  }

  /** Live connections of each kernel, in the order of `kernels` (biases not counted). */
  kernelLive(): number[] {
    const live = this.liveByParam();
    return this.kernels.map((k) => live.get(k.name) ?? 0);
  }

  /** All parameters, live or not. */
  denseParams(): number {
    return this.params.reduce((n, p) => n + p.size, 0);
  }

  /** Fraction of kernel connections that are live. */
  density(): number {
    const live = this.liveByParam();
    let l = 0;
    let t = 0;
    for (const p of this.kernels) {
      l += live.get(p.name) ?? 0;
      t += p.size;
    }
    return t === 0 ? 1 : l / t;
  }

  /** Forward FLOPs per sample (2 per multiply-accumulate): dense, and counting live connections only. */
  flopsPerSample(): { dense: number; sparse: number } {
    const macs = this.kernelMacs();
    const live = this.liveByParam();
    let dense = 0;
    let sparse = 0;
    for (const p of this.kernels) {
      const m = macs[p.name] ?? 0;
      dense += 2 * m;
      sparse += 2 * m * ((live.get(p.name) ?? 0) / p.size);
    }
    return { dense, sparse };
  }

  /**
   * Class probabilities in inference mode. `weights` (from `snapshotWeights`) stands in
   * for W*M of every parameter it names.
   */
  predict(x: tf.Tensor, weights?: ReadonlyMap<string, tf.Tensor>): tf.Tensor {
    return tf.tidy(() => tf.softmax(this.forward(x, { training: false, ...(weights && { weights }) })));
  }

  /**
   * W*M of every parameter, computed once, for serving a version that no longer
   * trains: on wasm a convolution whose filter tensor is the same from call to call
   * reuses XNNPACK's packed copy of it, where a fresh W*M is packed again on every
   * call (for ResNet-18 at batch 1 nearly all of the time). The caller disposes the
   * tensors (`WeightSnapshot.dispose`); the snapshot does not follow later changes of W or M.
   */
  snapshotWeights(): WeightSnapshot {
    const snapshot = new WeightSnapshot();
    for (const p of this.params) snapshot.set(p.name, tf.keep(tf.tidy(() => p.effective())));
    return snapshot;
  }

  /**
   * Adds output units for classes never seen before (class-incremental capacity).
   * Their incoming connections start dormant, to be grown by gradient; their biases
   * start at zero.
   */
  addClasses(count: number): void {
    if (count <= 0) return;
    this.head.addUnits(count);
    this.spec.numClasses += count;
  }

  private liveByParam(): Map<string, number> {
    const params = this.params;
    const sums = tf.tidy(() => tf.stack(params.map((p) => p.mask.sum())).dataSync());
    return new Map(params.map((p, i) => [p.name, sums[i]]));
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}
