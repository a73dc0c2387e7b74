/**
 * Hidden-layer LSTM (H-LSTM) cell, paper section 3.2 (after Dai, Yin and Jha,
 * "Grow and prune compact, fast, and accurate LSTMs", IEEE Trans. Computers 2020):
 * an LSTM whose four control gates are each a small MLP with one hidden layer,
 * with dropout on that hidden layer.
 *
 *   z_k = dropout(leaky(W1_k [x_t; h_{t-1}] + b1_k))        k in {f, i, o, g}
 *   f, i, o = sigmoid(W2_k z_k + b2_k),  g = tanh(W2_g z_g + b2_g)
 *   c_t = f * c_{t-1} + i * g,           h_t = o * tanh(c_t)
 *
 * Every weight tensor is a MaskedParam, so growth and pruning reach all of them.
 * W1_k is [inputSize + units, gateHidden] (inAxis 0: an input feature or a unit of
 * h_{t-1}; outAxis 1: a gate hidden neuron) and W2_k is [gateHidden, units]
 * (inAxis 0: a gate hidden neuron; outAxis 1: a gate output unit). The recoverable
 * pruning condition (section 4.3.2) therefore keeps, per tensor, one input of every
 * gate neuron and one output of every sender.
 *
 * Dropout draws one mask per sequence and reuses it at every step (Gal and
 * Ghahramani, "A theoretically grounded application of dropout in recurrent
 * neural networks", NeurIPS 2016): the same hidden neuron is dropped for a whole
 * utterance, which regularises the recurrence rather than adding per-step noise.
 *
 * `runHLstm` steps several cells of the same shape together (the two directions of
 * a bidirectional layer).
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './maskedParam.ts';
import { type ForwardContext, type Layer, heNormal, leaky, weightOf } from './layer.ts';

/** The four control gates: forget, input, output, cell update. */
export const HLSTM_GATES = ['f', 'i', 'o', 'g'] as const;
export type HLstmGate = (typeof HLSTM_GATES)[number];

export interface HLstmArgs {
  /** Layer name, prefix of its parameter names (`<name>/<gate>1/kernel`, ...). */
  name: string;
  /** Width of x_t. */
  inputSize: number;
  /** Width of the hidden and cell states (the paper's DeepSpeech2 uses 800). */
  units: number;
  /** Width of each gate MLP's hidden layer (default: `units`). */
  gateHidden?: number;
  /** Dropout rate on the gate hidden layers during training (paper: 0.2). */
  dropout?: number;
  /** Whether the inputs x_t are neurons (false when they are raw features). */
  inputsAreNeurons?: boolean;
  /** Seed of the initial values and of the dropout masks. */
  seed?: number;
}

/** The masked tensors of one gate MLP. */
export interface HLstmGateParams {
  /** [inputSize + units, gateHidden]: rows 0..inputSize-1 read x_t, the rest h_{t-1}. */
  hiddenKernel: MaskedParam;
  hiddenBias: MaskedParam;
  /** [gateHidden, units]. */
  outKernel: MaskedParam;
  outBias: MaskedParam;
}

export class HLstmCell implements Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  readonly state: tf.Variable[] = [];
  readonly inputSize: number;
  readonly units: number;
  readonly gateHidden: number;
  readonly dropout: number;
  readonly gates: Record<HLstmGate, HLstmGateParams>;
  private dropoutSeed: number;

  constructor(args: HLstmArgs) {
    this.name = args.name;
    this.inputSize = args.inputSize;
    this.units = args.units;
    this.gateHidden = args.gateHidden ?? args.units;
    this.dropout = args.dropout ?? 0.2;
    const seed = args.seed;
    this.dropoutSeed = (Math.imul(seed ?? Math.floor(Math.random() * 1e6), 7919) + 17) >>> 0;
    const fanIn = this.inputSize + this.units;
    const entries = HLSTM_GATES.map((gate, k): [HLstmGate, HLstmGateParams] => {
      const base = `${args.name}/${gate}`;
      const s = seed === undefined ? undefined : seed + 10 * k;
      const hiddenKernel = new MaskedParam({
        name: `${base}1/kernel`, layer: args.name, kind: 'kernel', init: heNormal([fanIn, this.gateHidden], fanIn, s),
        inAxis: 0, outAxis: 1, sendersAreNeurons: args.inputsAreNeurons ?? true,
      });
      const hiddenBias = new MaskedParam({ name: `${base}1/bias`, layer: args.name, kind: 'bias', init: tf.zeros([this.gateHidden]) });
      // Glorot normal for the gate outputs (sigmoid/tanh follow).
      const std = Math.sqrt(2 / (this.gateHidden + this.units));
      const outKernel = new MaskedParam({
        name: `${base}2/kernel`, layer: args.name, kind: 'kernel',
        init: tf.truncatedNormal([this.gateHidden, this.units], 0, std, 'float32', s === undefined ? undefined : s + 1), inAxis: 0, outAxis: 1,
      });
      // A forget-gate bias of 1 keeps the cell state early in training (Jozefowicz et al., ICML 2015).
      const outBias = new MaskedParam({ name: `${base}2/bias`, layer: args.name, kind: 'bias', init: gate === 'f' ? tf.ones([this.units]) : tf.zeros([this.units]) });
      return [gate, { hiddenKernel, hiddenBias, outKernel, outBias }];
    });
    this.gates = Object.fromEntries(entries) as Record<HLstmGate, HLstmGateParams>;
    this.params = HLSTM_GATES.flatMap((g) => {
      const p = this.gates[g];
      return [p.hiddenKernel, p.hiddenBias, p.outKernel, p.outBias];
    });
  }

  /** A fresh seed for one forward pass's dropout masks. */
  nextDropoutSeed(): number {
    this.dropoutSeed = (Math.imul(this.dropoutSeed, 1103515245) + 12345) >>> 0;
    return this.dropoutSeed;
  }

  /** Runs the cell over a sequence: [batch, time, inputSize] -> h_t for every t, [batch, time, units]. */
  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return runHLstm([this], [x], ctx)[0];
  }

  outputShape(inputShape: number[]): number[] {
    return [inputShape[0], this.units];
  }

  /** Per sample over `inputShape[0]` steps. */
  macs(inputShape: number[]): Record<string, number> {
    const steps = inputShape[0];
    const out: Record<string, number> = {};
    for (const g of HLSTM_GATES) {
      out[this.gates[g].hiddenKernel.name] = steps * (this.inputSize + this.units) * this.gateHidden;
      out[this.gates[g].outKernel.name] = steps * this.gateHidden * this.units;
    }
    return out;
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

export function hlstmCell(args: HLstmArgs): HLstmCell {
  return new HLstmCell(args);
}

/**
 * Runs `cells` (same inputSize, units and gateHidden) over `inputs[d]` ([batch,
 * time, inputSize], one per cell, same shape) from zero states, returning h_t of
 * every step for each cell ([batch, time, units]).
 *
 * The step is shaped for backends where every op has a fixed cost and only
 * two-dimensional matrix products are fast (tfjs wasm runs batched products on a
 * slow path): the input part of the first gate layer is one product over all
 * steps; per step, one product covers the recurrent part of all four gates' hidden
 * layers, and one product with a block-diagonal [4G, 4H] matrix covers their
 * output layers. tanh(u) = 2 sigmoid(2u) - 1, so one sigmoid serves all four gates.
 */
export function runHLstm(cells: readonly HLstmCell[], inputs: readonly tf.Tensor[], ctx: ForwardContext): tf.Tensor[] {
  const [B, T, In] = inputs[0].shape;
  const H = cells[0].units;
  const G = cells[0].gateHidden;
  const G4 = 4 * G;
  if (T === 0) return cells.map(() => tf.zeros([B, 0, H]));
  return tf.tidy(() => {
    const prepared = cells.map((cell, d) => {
      // Gates side by side: W1 [In + H, 4G], b1 [4G]; block-diagonal W2 [4G, 4H], b2 [4H].
      const w1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenKernel, ctx)), 1);
      const b1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenBias, ctx)));
      const scaled = (g: HLstmGate, t: tf.Tensor) => (g === 'g' ? t.mul(2) : t);
      const w2 = tf.concat(HLSTM_GATES.map((g, k) => tf.concat([
        ...(k > 0 ? [tf.zeros([G, k * H])] : []),
        scaled(g, weightOf(cell.gates[g].outKernel, ctx)),
        ...(k < 3 ? [tf.zeros([G, (3 - k) * H])] : []),
      ], 1)), 0) as tf.Tensor2D;
      const b2 = tf.concat(HLSTM_GATES.map((g) => scaled(g, weightOf(cell.gates[g].outBias, ctx)))) as tf.Tensor1D;
      const projected = tf.matMul(inputs[d].reshape([B * T, In]) as tf.Tensor2D, w1.slice([0, 0], [In, G4]) as tf.Tensor2D)
        .add(b1).reshape([B, T, G4]);
      const rate = cell.dropout;
      const keep = ctx.training && rate > 0
        ? tf.randomUniform([B, G4], 0, 1, 'float32', cell.nextDropoutSeed()).greaterEqual(rate).toFloat().div(1 - rate)
        : null;
      return { w1h: w1.slice([In, 0], [H, G4]) as tf.Tensor2D, w2, b2, steps: tf.unstack(projected, 1), keep };
    });
    const h: tf.Tensor[] = cells.map(() => tf.zeros([B, H]));
    const c: tf.Tensor[] = cells.map(() => tf.zeros([B, H]));
    const outputs: tf.Tensor[][] = cells.map(() => []);
    for (let t = 0; t < T; t++) {
      prepared.forEach((p, d) => {
        let z = leaky(tf.matMul(h[d] as tf.Tensor2D, p.w1h).add(p.steps[t]));
        if (p.keep) z = z.mul(p.keep);
        const gates = tf.sigmoid(tf.fused.matMul({ a: z as tf.Tensor2D, b: p.w2, bias: p.b2 }));
        const [f, i, o, g] = tf.split(gates, 4, 1);
        c[d] = f.mul(c[d]).add(i.mul(g.mul(2).sub(1)));
        h[d] = o.mul(tf.tanh(c[d]));
        outputs[d].push(h[d]);
      });
    }
    return outputs.map((o) => tf.stack(o, 1));
  });
}

/**
 * Valid lengths of the sequences of a padded batch, travelling with the batch
 * tensor: the task that pads a batch registers them, and sequence models read
 * them in their forward pass (`Layer.apply` takes a tensor only). Weakly held, so
 * they vanish with the tensor.
 */
const sequenceLengths = new WeakMap<tf.Tensor, readonly number[]>();

/** Records the valid length (in frames) of each sequence of the padded batch `x` ([batch, time, ...]). */
export function setSequenceLengths(x: tf.Tensor, lengths: readonly number[]): void {
  sequenceLengths.set(x, Object.freeze([...lengths]));
}

/** The lengths registered for `x`, or undefined. */
export function sequenceLengthsOf(x: tf.Tensor): readonly number[] | undefined {
  return sequenceLengths.get(x);
}
