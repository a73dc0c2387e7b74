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
 * bidirectional layer), with a hand-written backpropagation through time.
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
  const G = cells[0].gateHidden;
  const G4 = 4 * G;
  if (T === 0) return cells.map(() => tf.zeros([B, 0, H]));
  return tf.tidy(() => cells.map((cell, d) => {
    // Gates side by side: W1 [In + H, 4G], b1 [4G].
    const w1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenKernel, ctx)), 1);
    const b1 = tf.concat(HLSTM_GATES.map((g) => weightOf(cell.gates[g].hiddenBias, ctx)));
    const w1h = w1.slice([In, 0], [H, G4]) as tf.Tensor2D;
    const projected = tf.matMul(inputs[d].reshape([B * T, In]) as tf.Tensor2D, w1.slice([0, 0], [In, G4]) as tf.Tensor2D)
      .add(b1).reshape([B, T, G4]) as tf.Tensor3D;
    const rate = cell.dropout;
    const keep = ctx.training && rate > 0
      ? tf.randomUniform([B, G4], 0, 1, 'float32', cell.nextDropoutSeed()).greaterEqual(rate).toFloat().div(1 - rate) as tf.Tensor2D
      : null;
    const w2 = HLSTM_GATES.map((g) => weightOf(cell.gates[g].outKernel, ctx));
    const b2 = HLSTM_GATES.map((g) => weightOf(cell.gates[g].outBias, ctx));
    if (kernel === 'host') {
      return hlstmRecurrence(projected, w1h, tf.stack(w2) as tf.Tensor3D, tf.stack(b2) as tf.Tensor2D, keep ?? tf.ones([B, G4]) as tf.Tensor2D);
    }
    return graphRecurrence(projected, w1h, w2, b2, keep);
  }));
}

/**
 * The recurrence as tensor ops: block-diagonal W2 [4G, 4H] and b2 [4H] (the cell
 * update's part doubled for tanh via sigmoid), then `stepRecurrence`.
 */
function graphRecurrence(projected: tf.Tensor3D, w1h: tf.Tensor2D, w2: tf.Tensor[], b2: tf.Tensor[], keep: tf.Tensor2D | null): tf.Tensor {
  const [B, , G4] = projected.shape;
  const [G, H] = w2[0].shape;
  const scaled = (k: number, t: tf.Tensor) => (k === 3 ? t.mul(2) : t);
  const w2bd = tf.concat(w2.map((w, k) => tf.concat([
    ...(k > 0 ? [tf.zeros([G, k * H])] : []),
    scaled(k, w),
    ...(k < 3 ? [tf.zeros([G, (3 - k) * H])] : []),
  ], 1)), 0) as tf.Tensor2D;
  const b2all = tf.concat(b2.map((b, k) => scaled(k, b))) as tf.Tensor1D;
  return stepRecurrence(projected, w1h, w2bd, b2all, keep ?? tf.ones([B, G4]) as tf.Tensor2D);
}

/**
 * One differentiable op over the whole sequence whose forward pass and
 * backpropagation through time are both written as tensor ops, step by step.
 * Per step, the forward pass is 14 ops and the backward pass about 25; the
 * products that do not depend on the previous step (the weight gradients) run
 * once over all steps. Automatic differentiation of the same loop records about
 * 100 ops per step, and on backends with a fixed cost per op that is what a step
 * costs.
 *
 * @param w2bd [4G, 4H] block-diagonal second layers; b2 [4H]; keep [B, 4G] dropout scales.
 */
function stepRecurrence(projected: tf.Tensor3D, w1h: tf.Tensor2D, w2bd: tf.Tensor2D, b2: tf.Tensor1D, keep: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = projected.shape;
  const [H] = w1h.shape;
  const run = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xp, w1, w2, bias, k] = args.slice(0, 5) as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
    const save = args[5] as tf.GradSaveFunc;
    const steps = tf.unstack(xp, 1);
    const hs: tf.Tensor2D[] = [tf.zeros([B, H])];
    const cs: tf.Tensor2D[] = [tf.zeros([B, H])];
    const zs: tf.Tensor2D[] = [];
    const gates: tf.Tensor2D[] = [];
    const ths: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const z = leaky(tf.matMul(hs[t], w1).add(steps[t])).mul(k) as tf.Tensor2D;
      const act = tf.sigmoid(tf.fused.matMul({ a: z, b: w2, bias })) as tf.Tensor2D;
      const [f, i, o, g] = tf.split(act, 4, 1);
      const c = f.mul(cs[t]).add(i.mul(g.mul(2).sub(1))) as tf.Tensor2D;
      const th = tf.tanh(c) as tf.Tensor2D;
      zs.push(z);
      gates.push(act);
      cs.push(c);
      ths.push(th);
      hs.push(o.mul(th) as tf.Tensor2D);
    }
    // Inputs are saved too: the caller's tidy may dispose them before the backward pass.
    save([...hs.slice(0, T), ...cs.slice(0, T), ...zs, ...gates, ...ths, w1, w2, k]);
    const value = tf.stack(hs.slice(1), 1) as tf.Tensor3D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [hPrev, cPrev, z, act, th] = [0, 1, 2, 3, 4].map((j) => saved.slice(j * T, (j + 1) * T));
      const [w1Saved, w2Saved, kSaved] = saved.slice(5 * T);
      const w1t = w1Saved.transpose();
      const w2t = w2Saved.transpose();
      const k01 = kSaved.mul(0.01);
      const dys = tf.unstack(dy, 1);
      let dhNext: tf.Tensor = tf.zeros([B, H]);
      let dcNext: tf.Tensor = tf.zeros([B, H]);
      const dA: tf.Tensor[] = new Array(T);
      const dPre: tf.Tensor[] = new Array(T);
      for (let t = T - 1; t >= 0; t--) {
        const [f, i, o, gs] = tf.split(act[t], 4, 1);
        const g = gs.mul(2).sub(1);
        const dh = dys[t].add(dhNext);
        const dc = dh.mul(o).mul(tf.sub(1, th[t].square())).add(dcNext);
        const dPost = tf.concat([dc.mul(cPrev[t]), dc.mul(g), dh.mul(th[t]), dc.mul(i).mul(2)], 1);
        dcNext = dc.mul(f);
        dPre[t] = dPost.mul(act[t].mul(tf.sub(1, act[t])));
        dA[t] = tf.matMul(dPre[t] as tf.Tensor2D, w2t as tf.Tensor2D).mul(tf.where(z[t].greater(0), kSaved, k01));
        dhNext = tf.matMul(dA[t] as tf.Tensor2D, w1t as tf.Tensor2D);
      }
      const dAll = tf.concat(dA, 0) as tf.Tensor2D; // [T * B, 4G], step-major
      const dPreAll = tf.concat(dPre, 0) as tf.Tensor2D;
      const dW1 = tf.matMul(tf.concat(hPrev, 0).transpose(), dAll);
      const dW2 = tf.matMul(tf.concat(z, 0).transpose(), dPreAll);
      const dX = dAll.reshape([T, B, -1]).transpose([1, 0, 2]);
      return [dX, dW1, dW2, dPreAll.sum(0), tf.zerosLike(kSaved)];
    };
    return { value, gradFunc };
  });
  return run(projected, w1h, w2bd, b2, keep) as tf.Tensor3D;
}

/**
 * The H-LSTM recurrence as one differentiable op computed on the host: the
 * forward pass, and backpropagation through time in its gradient.
 *
 * @param projected [B, T, 4G]: W1x x_t + b1 for every step (gates f, i, o, g side by side).
 * @param w1h [H, 4G]: the recurrent rows of the gates' first layers.
 * @param w2 [4, G, H]: the gates' second layers; b2 [4, H] their biases.
 * @param keep [B, 4G]: dropout scale of each gate hidden neuron (0 or 1/(1-rate); ones without dropout), not differentiated.
 * @returns h_t of every step, [B, T, H].
 */
export function hlstmRecurrence(projected: tf.Tensor3D, w1h: tf.Tensor2D, w2: tf.Tensor3D, b2: tf.Tensor2D, keep: tf.Tensor2D): tf.Tensor3D {
  const [B, T, G4] = projected.shape;
  const [H] = w1h.shape;
  const G = G4 / 4;
  const run = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const X = (args[0] as tf.Tensor).dataSync() as Float32Array;
    const W1 = (args[1] as tf.Tensor).dataSync() as Float32Array;
    const W2 = (args[2] as tf.Tensor).dataSync() as Float32Array;
    const B2 = (args[3] as tf.Tensor).dataSync() as Float32Array;
    const K = (args[4] as tf.Tensor).dataSync() as Float32Array;
    // Saved for backpropagation: pre-activations A and outputs Z of the gate hidden
    // layers, gate activations (f, i, o, g), cell states C, tanh(C), hidden states Hs.
    const A = new Float32Array(T * B * G4);
    const Z = new Float32Array(T * B * G4);
    const act = new Float32Array(T * B * 4 * H);
    const C = new Float32Array((T + 1) * B * H);
    const TH = new Float32Array(T * B * H);
    const Hs = new Float32Array((T + 1) * B * H);
    const out = new Float32Array(B * T * H);
    const u = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const hPrev = (t * B + b) * H;
        const row = (t * B + b) * G4;
        const xRow = (b * T + t) * G4;
        for (let j = 0; j < G4; j++) A[row + j] = X[xRow + j];
        for (let r = 0; r < H; r++) {
          const hv = Hs[hPrev + r];
          if (hv === 0) continue;
          const w = r * G4;
          for (let j = 0; j < G4; j++) A[row + j] += hv * W1[w + j];
        }
        for (let j = 0; j < G4; j++) {
          const a = A[row + j];
          Z[row + j] = (a > 0 ? a : 0.01 * a) * K[b * G4 + j];
        }
        const actRow = (t * B + b) * 4 * H;
        for (let k = 0; k < 4; k++) {
          for (let q = 0; q < H; q++) u[q] = B2[k * H + q];
          for (let j = 0; j < G; j++) {
            const zv = Z[row + k * G + j];
            if (zv === 0) continue;
            const w = (k * G + j) * H;
            for (let q = 0; q < H; q++) u[q] += zv * W2[w + q];
          }
          for (let q = 0; q < H; q++) act[actRow + k * H + q] = k === 3 ? Math.tanh(u[q]) : 1 / (1 + Math.exp(-u[q]));
        }
        const cPrev = (t * B + b) * H;
        const cNext = ((t + 1) * B + b) * H;
        for (let q = 0; q < H; q++) {
          const f = act[actRow + q];
          const i = act[actRow + H + q];
          const o = act[actRow + 2 * H + q];
          const g = act[actRow + 3 * H + q];
          const c = f * C[cPrev + q] + i * g;
          const th = Math.tanh(c);
          C[cNext + q] = c;
          TH[cPrev + q] = th;
          Hs[cNext + q] = o * th;
          out[(b * T + t) * H + q] = o * th;
        }
      }
    }
    const value = tf.tensor3d(out, [B, T, H]);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const DY = dy.dataSync();
      const dX = new Float32Array(B * T * G4);
      const dW1 = new Float64Array(H * G4);
      const dW2 = new Float64Array(4 * G * H);
      const dB2 = new Float64Array(4 * H);
      const dhNext = new Float64Array(B * H);
      const dcNext = new Float64Array(B * H);
      const du = new Float64Array(4 * H);
      const da = new Float64Array(G4);
      for (let t = T - 1; t >= 0; t--) {
        for (let b = 0; b < B; b++) {
          const actRow = (t * B + b) * 4 * H;
          const cPrev = (t * B + b) * H;
          for (let q = 0; q < H; q++) {
            const f = act[actRow + q];
            const i = act[actRow + H + q];
            const o = act[actRow + 2 * H + q];
            const g = act[actRow + 3 * H + q];
            const th = TH[cPrev + q];
            const dh = DY[(b * T + t) * H + q] + dhNext[b * H + q];
            const dc = dh * o * (1 - th * th) + dcNext[b * H + q];
            du[q] = dc * C[cPrev + q] * f * (1 - f);
            du[H + q] = dc * g * i * (1 - i);
            du[2 * H + q] = dh * th * o * (1 - o);
            du[3 * H + q] = dc * i * (1 - g * g);
            dcNext[b * H + q] = dc * f;
          }
          for (let q = 0; q < 4 * H; q++) dB2[q] += du[q];
          const row = (t * B + b) * G4;
          for (let k = 0; k < 4; k++) {
            for (let j = 0; j < G; j++) {
              const zv = Z[row + k * G + j];
              const w = (k * G + j) * H;
              let dz = 0;
              for (let q = 0; q < H; q++) {
                dz += du[k * H + q] * W2[w + q];
                dW2[w + q] += zv * du[k * H + q];
              }
              const a = A[row + k * G + j];
              da[k * G + j] = dz * K[b * G4 + k * G + j] * (a > 0 ? 1 : 0.01);
            }
          }
          const xRow = (b * T + t) * G4;
          for (let j = 0; j < G4; j++) dX[xRow + j] = da[j];
          const hPrev = (t * B + b) * H;
          for (let r = 0; r < H; r++) {
            const hv = Hs[hPrev + r];
            const w = r * G4;
            let dh = 0;
            for (let j = 0; j < G4; j++) {
              dh += da[j] * W1[w + j];
              dW1[w + j] += hv * da[j];
            }
            dhNext[b * H + r] = dh;
          }
        }
      }
      return [
        tf.tensor3d(dX, [B, T, G4]), tf.tensor2d(Float32Array.from(dW1), [H, G4]),
        tf.tensor3d(Float32Array.from(dW2), [4, G, H]), tf.tensor2d(Float32Array.from(dB2), [4, H]), tf.zeros([B, G4]),
      ];
    };
    return { value, gradFunc };
  });
  return run(projected, w1h, w2, b2, keep) as tf.Tensor3D;
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
