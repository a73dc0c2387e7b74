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
 * `runHLstm` runs cells of the same shape over their inputs (the two directions of a
 * bidirectional layer), with a hand-written backpropagation through time: as tensor
 * ops (core/sparse/hlstm-graph-recurrence.ts) or as host loops
 * (core/sparse/hlstm-host-recurrence.ts).
 */
import * as tf from '../tf.ts';
import { MaskedParam } from './masked-param.ts';
import { type ForwardContext, type Layer, heNormal, weightOf } from './layer.ts';
import { graphRecurrence } from './hlstm-graph-recurrence.ts';
import { hlstmRecurrence } from './hlstm-host-recurrence.ts';

// The padded batch's lengths used to live here; core/train/speech-task.ts still imports them from this path.
export { sequenceLengthsOf, setSequenceLengths } from './sequence-lengths.ts';

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

/** How `runHLstm` computes the recurrence. */
export type HLstmKernel = 'graph' | 'host';

/**
 * `host` on the cpu backend, where a step's dozens of small tensor ops cost far
 * more in per-op overhead than in arithmetic; `graph` elsewhere: wasm's SIMD matrix
 * products beat scalar host loops (measured about 4x on one core at 32 units), and
 * native and GPU backends keep tensors on the device.
 */
export function defaultHLstmKernel(): HLstmKernel {
  return tf.getBackend() === 'cpu' ? 'host' : 'graph';
}

/**
 * Runs `cells` (same inputSize, units and gateHidden) over `inputs[d]` ([batch,
 * time, inputSize], one per cell, same shape) from zero states, returning h_t of
 * every step for each cell ([batch, time, units]).
 *
 * The input part of the first gate layer is one matrix product over all steps.
 * The recurrence then runs either as tensor ops (`graph`: per step, one product
 * covers the recurrent part of all four gates' hidden layers and one product with
 * a block-diagonal [4G, 4H] matrix their output layers; tanh(u) = 2 sigmoid(2u) - 1,
 * so one sigmoid serves all four gates) or as one custom op whose forward pass and
 * backpropagation through time are host loops (`host`, see `hlstmRecurrence`).
 * Both give the same values and gradients (a test checks).
 */
export function runHLstm(cells: readonly HLstmCell[], inputs: readonly tf.Tensor[], ctx: ForwardContext, kernel: HLstmKernel = defaultHLstmKernel()): tf.Tensor[] {
  const [B, T, In] = inputs[0].shape;
  const H = cells[0].units;
  const G4 = 4 * cells[0].gateHidden;
  if (T === 0) return cells.map(() => tf.zeros([B, 0, H]));
  return tf.tidy(() => cells.map((cell, d) => {
    // Gates side by side: W1 [In + H, 4G], b1 [4G].
    const w1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenKernel, ctx)), 1);
    const b1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenBias, ctx)));
    const w1h = w1.slice([In, 0], [H, G4]);
    const projected = tf.reshape(tf.matMul(inputs[d].reshape([B * T, In]), w1.slice([0, 0], [In, G4])).add(b1), [B, T, G4]);
    const keep = dropoutScales(cell, [B, G4], ctx);
    const w2 = HLSTM_GATES.map((g) => weightOf(cell.gates[g].outKernel, ctx));
    const b2 = HLSTM_GATES.map((g) => weightOf(cell.gates[g].outBias, ctx));
    if (kernel === 'host') {
      return hlstmRecurrence(projected, w1h, tf.stack(w2), tf.stack(b2), keep ?? tf.ones([B, G4]));
    }
    return graphRecurrence(projected, w1h, w2, b2, keep);
  }));
}

/** The dropout scale of each gate hidden neuron for one sequence ([B, 4G]: 0 or 1/(1-rate)), or null outside training. */
function dropoutScales(cell: HLstmCell, shape: [number, number], ctx: ForwardContext): tf.Tensor | null {
  const rate = cell.dropout;
  if (!ctx.training || rate <= 0) return null;
  return tf.randomUniform(shape, 0, 1, 'float32', cell.nextDropoutSeed()).greaterEqual(rate).toFloat().div(1 - rate);
}
