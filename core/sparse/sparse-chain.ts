/**
 * Consecutive masked fully connected layers run on the WebAssembly SIMD kernel
 * (core/sparse/spmm-wasm.ts): the batch is transposed once into the kernel's
 * [features][batch] layout, goes through every layer there with the leaky ReLU
 * (paper eq. 4) fused into each store, and is transposed back once (in the
 * module, 4 x 4 blocks at a time, when the width is a multiple of 4). Each chain
 * owns one instance of the module, whose memory holds the live connections
 * (copied in once) and the activations of the largest batch seen so far.
 */
import { BonsaiError } from '../errors.ts';
import { instantiateSpmm, type SpmmExports } from './spmm-wasm.ts';

/** One layer's live connections, grouped by output. */
export interface SparseLayer {
  /** Number of inputs (kernel rows). */
  readonly inUnits: number;
  /** Number of outputs (kernel columns). */
  readonly outUnits: number;
  /** `outUnits + 1` offsets: output j's connections are `start[j] .. start[j + 1] - 1`. */
  readonly start: Int32Array;
  /** Input index of each connection. */
  readonly inputs: Int32Array;
  /** Weight of each connection. */
  readonly values: Float32Array;
  /** Bias of each output. */
  readonly bias: Float32Array;
}

/** The live connections of `weights` [inUnits, outUnits] row-major where `mask` is not 0. */
export function sparseLayerFromMasked(weights: Float32Array, mask: Float32Array, bias: Float32Array, inUnits: number, outUnits: number): SparseLayer {
  if (weights.length !== inUnits * outUnits || mask.length !== inUnits * outUnits || bias.length !== outUnits) {
    throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `a [${inUnits}, ${outUnits}] layer needs ${inUnits * outUnits} weights and mask entries and ${outUnits} biases, got ${weights.length}, ${mask.length} and ${bias.length}`,
      { inUnits, outUnits, weights: weights.length, mask: mask.length, bias: bias.length });
  }
  let live = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) live++;
  const start = new Int32Array(outUnits + 1);
  const inputs = new Int32Array(live);
  const values = new Float32Array(live);
  let k = 0;
  for (let j = 0; j < outUnits; j++) {
    for (let i = 0; i < inUnits; i++) {
      const at = i * outUnits + j;
      if (mask[at] !== 0) {
        inputs[k] = i;
        values[k] = weights[at];
        k++;
      }
    }
    start[j + 1] = k;
  }
  return { inUnits, outUnits, start, inputs, values, bias: Float32Array.from(bias) };
}

/** Byte offsets of one layer's arrays in the module's memory. */
interface Placed { offsets: number; inputs: number; values: number; bias: number; outUnits: number }

const PAGE = 65536;
/** Leaky ReLU slope between layers (core/sparse/layer.ts, `leaky`). */
const LEAKY_SLOPE = 0.01;

/** See the file comment. */
export class SparseChain {
  readonly inUnits: number;
  readonly outUnits: number;
  private readonly wasm: SpmmExports;
  private readonly placed: Placed[];
  /** Where the activations begin (after the layers' arrays), bytes. */
  private readonly scratch: number;
  /** Widest activation of the chain, input included. */
  private readonly widest: number;
  /** Whether the last layer's output goes through the leaky ReLU too. */
  private readonly activateLast: boolean;

  /** `layers` in order, each one's inputs the previous one's outputs. */
  constructor(layers: readonly SparseLayer[], activateLast: boolean) {
    if (layers.length === 0) throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', 'a sparse chain needs at least one layer');
    layers.forEach((l, i) => {
      if (i > 0 && l.inUnits !== layers[i - 1].outUnits) {
        throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `layer ${i} takes ${l.inUnits} inputs, layer ${i - 1} gives ${layers[i - 1].outUnits}`, { layer: i, inUnits: l.inUnits, previous: layers[i - 1].outUnits });
      }
    });
    this.wasm = instantiateSpmm();
    this.inUnits = layers[0].inUnits;
    this.outUnits = layers[layers.length - 1].outUnits;
    this.widest = Math.max(this.inUnits, ...layers.map((l) => l.outUnits));
    this.activateLast = activateLast;
    let at = 0;
    const place = (bytes: number): number => {
      const here = at;
      at += Math.ceil(bytes / 16) * 16;
      return here;
    };
    this.placed = layers.map((l) => ({ offsets: place(4 * l.start.length), inputs: place(4 * l.inputs.length), values: place(4 * l.values.length), bias: place(4 * l.outUnits), outUnits: l.outUnits }));
    this.scratch = at;
    this.reserve(at);
    const buffer = this.wasm.memory.buffer;
    layers.forEach((l, i) => {
      const p = this.placed[i];
      new Int32Array(buffer, p.offsets, l.start.length).set(l.start.map((s) => 4 * s));
      new Int32Array(buffer, p.inputs, l.inputs.length).set(l.inputs);
      new Float32Array(buffer, p.values, l.values.length).set(l.values);
      new Float32Array(buffer, p.bias, l.outUnits).set(l.bias);
    });
  }

  /** The chain's outputs for `n` samples `x` [n, inUnits] row-major: [n, outUnits]. */
  run(x: Float32Array, n: number): Float32Array {
    if (x.length !== n * this.inUnits) {
      throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `${n} samples of ${this.inUnits} inputs need ${n * this.inUnits} values, got ${x.length}`, { n, inUnits: this.inUnits, values: x.length });
    }
    const nb = Math.ceil(n / 4) * 4;
    const plane = 4 * this.widest * nb;
    // Two planes of activations in the kernel's layout, and one for the batch in the callers' layout.
    this.reserve(this.scratch + 3 * plane);
    const buffer = this.wasm.memory.buffer;
    let from = this.scratch;
    let to = this.scratch + plane;
    const staged = this.scratch + 2 * plane;
    if (this.inUnits % 4 === 0) {
      // Rows n .. nb - 1 hold whatever was there: lanes are samples, so they only reach the padding's outputs.
      new Float32Array(buffer, staged, n * this.inUnits).set(x);
      this.wasm.transpose(staged, nb, this.inUnits, from);
    } else {
      transposeInto(x, n, this.inUnits, new Float32Array(buffer, from, this.inUnits * nb), nb);
    }
    this.placed.forEach((p, i) => {
      const slope = i < this.placed.length - 1 || this.activateLast ? LEAKY_SLOPE : 1;
      this.wasm.spmm(p.offsets, p.inputs, p.values, p.bias, p.outUnits, from, to, 4 * nb, slope);
      [from, to] = [to, from];
    });
    if (this.outUnits % 4 === 0) {
      this.wasm.transpose(from, this.outUnits, nb, staged);
      return new Float32Array(buffer, staged, n * this.outUnits).slice();
    }
    const y = new Float32Array(n * this.outUnits);
    transposeFrom(new Float32Array(buffer, from, this.outUnits * nb), nb, y, n, this.outUnits);
    return y;
  }

  /** Grows the memory to at least `bytes`. */
  private reserve(bytes: number): void {
    const have = this.wasm.memory.buffer.byteLength;
    if (bytes > have) this.wasm.memory.grow(Math.ceil((bytes - have) / PAGE));
  }
}

/** x [n, width] row-major into t [width, nb] (nb >= n; the padding columns are left as they are). */
function transposeInto(x: Float32Array, n: number, width: number, t: Float32Array, nb: number): void {
  for (let b = 0; b < n; b++) {
    const o = b * width;
    for (let i = 0; i < width; i++) t[i * nb + b] = x[o + i];
  }
}

/** t [width, nb] into y [n, width] row-major. */
function transposeFrom(t: Float32Array, nb: number, y: Float32Array, n: number, width: number): void {
  for (let b = 0; b < n; b++) {
    const o = b * width;
    for (let j = 0; j < width; j++) y[o + j] = t[j * nb + b];
  }
}
