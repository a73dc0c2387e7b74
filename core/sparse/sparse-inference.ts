/**
 * Inference on the live connections only: a served model's fully connected
 * chain (`MaskedModel.denseTail`) runs its sparse-enough layers on the
 * WebAssembly SIMD kernel (core/sparse/sparse-chain.ts, consecutive ones as one
 * chain) and the others on tfjs's matMul, with the same leaky ReLU
 * (paper eq. 4) between them, so the logits equal `forward(x, { training: false })`
 * within float rounding.
 *
 * The plan is a snapshot of W*M taken when it is compiled: it is for serving a
 * published version, which never changes, and never for training (it has no
 * gradients and does not see later optimizer steps).
 */
import * as tf from '../tf.ts';
import { BonsaiError } from '../errors.ts';
import type { DenseTail, MaskedModel } from '../models/model.ts';
import type { WeightSnapshot } from './layer.ts';
import type { MaskedDense } from './masked-dense.ts';
import { SparseChain, type SparseLayer, sparseLayerFromMasked } from './sparse-chain.ts';

/**
 * Kernel density at or below which a layer runs on the sparse kernel; denser
 * layers run on tfjs's matMul over a W*M snapshot. Measured by `npm run
 * bench:sparse` (bench/results/sparse.md) on a 784 x 300 layer: the WebAssembly
 * kernel beat tfjs's matMul at every batch (1, 32, 128) up to 20 % (2.7x to
 * 3.9x there), at batch 32 and 128 up to 40 %, and lost at batch 1 from 30 %
 * (a batch of one fills one SIMD lane in four).
 */
export const SPARSE_MAX_DENSITY = 0.2;

/**
 * Largest batch the plan is used for. LeNet-300-100 at 10 % density ran 70x
 * `model.predict` at batch 1 and 6.9x at 128 (`npm run bench:sparse`), so every
 * batch the server accepts uses it.
 */
export const SPARSE_MAX_BATCH = 1024;

/** Options of `compileSparseInference`. */
export interface SparseInferenceOptions {
  /** Layers whose kernel density is at most this run on CSR (default `SPARSE_MAX_DENSITY`). */
  maxDensity?: number;
  /** Largest batch callers should run on the plan (default `SPARSE_MAX_BATCH`); larger ones are faster on `model.predict`. */
  maxBatch?: number;
  /**
   * The model's weight snapshot (`MaskedModel.snapshotWeights`) for the layers before the
   * chain, when the caller has one: the plan uses it and leaves freeing it to the caller.
   * Without it the plan takes its own and frees it on `dispose`.
   */
  weights?: WeightSnapshot;
}

/** How one layer of the chain runs. */
export interface LayerPlan {
  /** Layer name, e.g. `fc1`. */
  name: string;
  /** Live kernel connections over all. */
  density: number;
  /** `sparse`: the WebAssembly sparse kernel; `dense`: tfjs matMul. */
  kind: 'sparse' | 'dense';
}

/** One layer as the plan runs it. */
type Step =
  | { kind: 'sparse'; chain: SparseChain }
  | { kind: 'dense'; kernel: tf.Tensor2D; bias: tf.Tensor1D; activate: boolean };

/** A compiled plan; see the file comment. Dispose it with its model. */
export class SparseInference {
  /** Per layer of the chain: its density and how it runs. */
  readonly layers: readonly LayerPlan[];
  /** Largest batch worth running here; larger ones are faster on the model's tfjs forward pass. */
  readonly maxBatch: number;
  private steps: Step[] | null;
  private readonly prefix: ((x: tf.Tensor, weights?: ReadonlyMap<string, tf.Tensor>) => tf.Tensor) | undefined;
  /** W*M of the layers before the chain, fixed at compile time (the prefix reuses the same filters every call). */
  private snapshot: WeightSnapshot | null;
  /** Whether `dispose` frees the snapshot (the plan took it itself). */
  private readonly ownsSnapshot: boolean;
  private readonly inputShape: readonly number[];
  private readonly inputSize: number;

  constructor(
    steps: Step[], layers: LayerPlan[], inputShape: readonly number[], maxBatch: number,
    prefix?: DenseTail['prefix'], snapshot?: { weights: WeightSnapshot; owned: boolean },
  ) {
    this.steps = steps;
    this.snapshot = snapshot?.weights ?? null;
    this.ownsSnapshot = snapshot?.owned ?? false;
    this.maxBatch = maxBatch;
    this.layers = layers;
    this.prefix = prefix;
    this.inputShape = [...inputShape];
    this.inputSize = inputShape.reduce((a, b) => a * b, 1);
  }

  /** Logits of `n` samples laid out row-major in `x` (`n * prod(inputShape)` values): [n, classes]. */
  logits(x: Float32Array, n: number): Float32Array {
    const steps = this.steps;
    if (steps === null) throw new BonsaiError('BONSAI_CORE_SPARSE_DISPOSED', 'the sparse inference plan was disposed with its model');
    if (x.length !== n * this.inputSize) {
      throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `${n} samples of shape [${this.inputShape.join(', ')}] need ${n * this.inputSize} values, got ${x.length}`,
        { n, inputShape: [...this.inputShape], values: x.length });
    }
    let h = this.prefix === undefined ? x : this.runPrefix(x, n);
    for (const step of steps) {
      if (step.kind === 'sparse') {
        h = step.chain.run(h, n);
      } else {
        h = denseStep(h, n, step);
        if (step.activate) leakyInPlace(h);
      }
    }
    return h;
  }

  /** Class probabilities (softmax of the logits): [n, classes] row-major. */
  probabilities(x: Float32Array, n: number): Float32Array {
    const z = this.logits(x, n);
    const k = z.length / n;
    for (let b = 0; b < n; b++) softmaxInPlace(z.subarray(b * k, (b + 1) * k));
    return z;
  }

  /** Frees the dense layers' tensors; later calls throw `BONSAI_CORE_SPARSE_DISPOSED`. Idempotent. */
  dispose(): void {
    for (const s of this.steps ?? []) if (s.kind === 'dense') tf.dispose([s.kernel, s.bias]);
    this.steps = null;
    if (this.ownsSnapshot) this.snapshot?.dispose();
    this.snapshot = null;
  }

  private runPrefix(x: Float32Array, n: number): Float32Array {
    const prefix = this.prefix as NonNullable<DenseTail['prefix']>;
    const out = tf.tidy(() => prefix(tf.tensor(x, [n, ...this.inputShape], 'float32'), this.snapshot ?? undefined));
    try {
      return out.dataSync() as Float32Array;
    } finally {
      out.dispose();
    }
  }
}

/**
 * A plan for `model`'s fully connected chain, or null when the model has none.
 * Even with no layer sparse enough it beats `model.predict` at small batches:
 * its dense layers multiply a W*M snapshot instead of forming W*M every call.
 */
export function compileSparseInference(model: MaskedModel, options: SparseInferenceOptions = {}): SparseInference | null {
  const tail = model.denseTail();
  if (tail === null || tail.layers.length === 0) return null;
  const maxDensity = options.maxDensity ?? SPARSE_MAX_DENSITY;
  const read = tail.layers.map((layer) => readLayer(layer));
  const last = tail.layers.length - 1;
  // Consecutive sparse layers run as one chain, in the kernel's layout throughout.
  const groups: Array<{ sparse: SparseLayer[]; last: number } | { dense: number }> = [];
  tail.layers.forEach((layer, i) => {
    const r = read[i];
    if (r.density > maxDensity) {
      groups.push({ dense: i });
      return;
    }
    const sparse = sparseLayerFromMasked(r.weights, r.mask, r.bias, layer.inUnits, layer.units);
    const previous = groups.at(-1);
    if (previous !== undefined && 'sparse' in previous) {
      previous.sparse.push(sparse);
      previous.last = i;
    } else {
      groups.push({ sparse: [sparse], last: i });
    }
  });
  const steps = groups.map((g): Step => {
    if ('sparse' in g) return { kind: 'sparse', chain: new SparseChain(g.sparse, g.last < last) };
    const layer = tail.layers[g.dense];
    return { kind: 'dense', kernel: tf.tidy(() => layer.kernel.effective() as tf.Tensor2D), bias: tf.tensor1d(read[g.dense].bias), activate: g.dense < last };
  });
  const plans = read.map((r, i) => ({ name: tail.layers[i].name, density: r.density, kind: r.density > maxDensity ? 'dense' as const : 'sparse' as const }));
  const snapshot = tail.prefix === undefined ? undefined
    : options.weights ? { weights: options.weights, owned: false } : { weights: model.snapshotWeights(), owned: true };
  return new SparseInference(steps, plans, model.spec.inputShape, options.maxBatch ?? SPARSE_MAX_BATCH, tail.prefix, snapshot);
}

/** A layer's weights, mask, effective bias and kernel density, read to the host. */
function readLayer(layer: MaskedDense): { weights: Float32Array; mask: Float32Array; bias: Float32Array; density: number } {
  const weights = layer.kernel.value.dataSync() as Float32Array;
  const mask = layer.kernel.mask.dataSync() as Float32Array;
  const b = tf.tidy(() => layer.bias.effective());
  const bias = Float32Array.from(b.dataSync());
  b.dispose();
  let live = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) live++;
  return { weights, mask, bias, density: mask.length === 0 ? 1 : live / mask.length };
}

/** A dense layer on tfjs: [n, in] host values in, [n, out] host values out. */
function denseStep(x: Float32Array, n: number, step: Extract<Step, { kind: 'dense' }>): Float32Array {
  const y = tf.tidy(() => tf.matMul(tf.tensor2d(x, [n, x.length / n]), step.kernel).add(step.bias));
  try {
    return y.dataSync() as Float32Array;
  } finally {
    y.dispose();
  }
}

/** Leaky ReLU with slope 0.01, as `leaky` in core/sparse/layer.ts. */
function leakyInPlace(h: Float32Array): void {
  for (let i = 0; i < h.length; i++) if (h[i] < 0) h[i] *= 0.01;
}

/** Softmax of one row, in place (max subtracted, sums in float64). */
function softmaxInPlace(z: Float32Array): void {
  let max = -Infinity;
  for (let k = 0; k < z.length; k++) if (z[k] > max) max = z[k];
  let sum = 0;
  for (let k = 0; k < z.length; k++) {
    const e = Math.exp(z[k] - max);
    z[k] = e;
    sum += e;
  }
  for (let k = 0; k < z.length; k++) z[k] /= sum;
}
