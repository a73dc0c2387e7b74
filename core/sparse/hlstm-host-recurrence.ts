/**
 * The H-LSTM recurrence computed on the host (core/sparse/hlstm.ts, kernel `host`):
 * one differentiable op whose forward pass and backpropagation through time are
 * plain loops over float arrays. On the cpu backend a step's dozens of small
 * tensor ops cost far more in per-op overhead than in arithmetic.
 *
 * Shapes: B batch, T steps, H units, G gate hidden neurons per gate (G4 = 4G).
 * Gates are side by side in the order f, i, o, g. The loops skip zero inputs of a
 * product (pruned or dropped neurons, the zero initial state).
 */
import * as tf from '../tf.ts';

/** The sizes of one run. */
interface Dims {
  B: number;
  T: number;
  H: number;
  G: number;
  G4: number;
}

/** The op's inputs read back to the host. */
interface HostInputs {
  /** [B, T, 4G]: W1x x_t + b1. */
  X: Float32Array;
  /** [H, 4G]: the recurrent rows of the gates' first layers. */
  W1: Float32Array;
  /** [4, G, H] and [4, H]: the gates' second layers and their biases. */
  W2: Float32Array;
  B2: Float32Array;
  /** [B, 4G]: dropout scales. */
  K: Float32Array;
}

/** What the forward pass keeps for backpropagation, step-major ([t][b][...]). */
interface HostTrace {
  /** Pre-activations and outputs of the gate hidden layers, [T, B, 4G]. */
  A: Float32Array;
  Z: Float32Array;
  /** Gate activations f, i, o, g, [T, B, 4H]. */
  act: Float32Array;
  /** Cell states c_0..c_T, [T + 1, B, H]. */
  C: Float32Array;
  /** tanh(c_1..c_T), [T, B, H]. */
  TH: Float32Array;
  /** Hidden states h_0..h_T, [T + 1, B, H]. */
  Hs: Float32Array;
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
export function hlstmRecurrence(projected: tf.Tensor, w1h: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor, keep: tf.Tensor): tf.Tensor3D {
  const [B, T, G4] = projected.shape;
  const dims: Dims = { B, T, H: w1h.shape[0], G: G4 / 4, G4 };
  const run = tf.customGrad<tf.Tensor3D>((...args) => {
    const [X, W1, W2, B2, K] = (args.slice(0, 5) as tf.Tensor[]).map((t) => t.dataSync<'float32'>());
    const inputs: HostInputs = { X, W1, W2, B2, K };
    const { trace, out } = hostForward(inputs, dims);
    const value = tf.tensor3d(out, [B, T, dims.H]);
    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => hostBackward(dy.dataSync<'float32'>(), inputs, trace, dims);
    return { value, gradFunc };
  });
  return run(projected, w1h, w2, b2, keep);
}

/** The forward pass: the trace, and h_t of every step as [B, T, H]. */
function hostForward(inputs: HostInputs, dims: Dims): { trace: HostTrace; out: Float32Array } {
  const { B, T, H, G4 } = dims;
  const trace: HostTrace = {
    A: new Float32Array(T * B * G4),
    Z: new Float32Array(T * B * G4),
    act: new Float32Array(T * B * 4 * H),
    C: new Float32Array((T + 1) * B * H),
    TH: new Float32Array(T * B * H),
    Hs: new Float32Array((T + 1) * B * H),
  };
  const out = new Float32Array(B * T * H);
  const u = new Float64Array(H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      gateHiddenForward(inputs, trace, dims, t, b);
      gateOutputsForward(inputs, trace, dims, (t * B + b) * G4, (t * B + b) * 4 * H, u);
      cellForward(trace, out, dims, t, b);
    }
  }
  return { trace, out };
}

/** Gate hidden layers at step t of sequence b: A = X + h_{t-1} W1h, Z = leaky(A) * K. */
function gateHiddenForward({ X, W1, K }: HostInputs, { A, Z, Hs }: HostTrace, { B, T, H, G4 }: Dims, t: number, b: number): void {
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
}

/** Gate output layers from the hidden outputs at `row`: sigmoid for f, i, o and tanh for g, written at `actRow`. */
function gateOutputsForward({ W2, B2 }: HostInputs, { Z, act }: HostTrace, { H, G }: Dims, row: number, actRow: number, u: Float64Array): void {
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
}

/** The cell at step t of sequence b: c_t = f c_{t-1} + i g, h_t = o tanh(c_t). */
function cellForward({ act, C, TH, Hs }: HostTrace, out: Float32Array, { B, T, H }: Dims, t: number, b: number): void {
  const actRow = (t * B + b) * 4 * H;
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

/** Gradients accumulated over the steps (float64), and the carries from step t + 1. */
interface HostGrads {
  dX: Float32Array;
  dW1: Float64Array;
  dW2: Float64Array;
  dB2: Float64Array;
  dhNext: Float64Array;
  dcNext: Float64Array;
  /** Scratch: gradients of the gate output pre-activations [4H] and of the hidden pre-activations [4G]. */
  du: Float64Array;
  da: Float64Array;
}

/** Backpropagation through time: the gradients of the op's inputs, in their order. */
function hostBackward(DY: Float32Array, inputs: HostInputs, trace: HostTrace, dims: Dims): tf.Tensor[] {
  const { B, T, H, G, G4 } = dims;
  const grads: HostGrads = {
    dX: new Float32Array(B * T * G4),
    dW1: new Float64Array(H * G4),
    dW2: new Float64Array(4 * G * H),
    dB2: new Float64Array(4 * H),
    dhNext: new Float64Array(B * H),
    dcNext: new Float64Array(B * H),
    du: new Float64Array(4 * H),
    da: new Float64Array(G4),
  };
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      cellBackward(DY, trace, grads, dims, t, b);
      gateOutputsBackward(inputs, trace, grads, dims, t, b);
      gateHiddenBackward(inputs, trace, grads, dims, t, b);
    }
  }
  return [
    tf.tensor3d(grads.dX, [B, T, G4]), tf.tensor2d(Float32Array.from(grads.dW1), [H, G4]),
    tf.tensor3d(Float32Array.from(grads.dW2), [4, G, H]), tf.tensor2d(Float32Array.from(grads.dB2), [4, H]), tf.zeros([B, G4]),
  ];
}

/** Through the cell at step t of sequence b: du (gate pre-activations) and the carried dc. */
function cellBackward(DY: Float32Array, { act, C, TH }: HostTrace, { du, dhNext, dcNext, dB2 }: HostGrads, { B, T, H }: Dims, t: number, b: number): void {
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
}

/** Through the gate output layers: dW2, and da (the hidden pre-activations) through leaky and dropout. */
function gateOutputsBackward({ W2, K }: HostInputs, { A, Z }: HostTrace, { du, da, dW2 }: HostGrads, { B, H, G, G4 }: Dims, t: number, b: number): void {
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
}

/** Through the gate hidden layers: dX at step t, dW1, and dh carried to step t - 1. */
function gateHiddenBackward({ W1 }: HostInputs, { Hs }: HostTrace, { da, dX, dW1, dhNext }: HostGrads, { B, T, H, G4 }: Dims, t: number, b: number): void {
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
