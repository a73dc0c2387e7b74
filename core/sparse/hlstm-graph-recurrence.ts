/**
 * The H-LSTM recurrence as tensor ops (core/sparse/hlstm.ts, kernel `graph`): per
 * step, one product covers the recurrent part of all four gates' hidden layers and
 * one product with a block-diagonal [4G, 4H] matrix their output layers;
 * tanh(u) = 2 sigmoid(2u) - 1, so one sigmoid serves all four gates. The
 * backpropagation through time is written by hand as tensor ops too.
 *
 * Shapes: B batch, T steps, H units, G gate hidden neurons per gate.
 */
import * as tf from '../tf.ts';
import { leaky } from './layer.ts';

/**
 * The recurrence over `projected` from zero states.
 *
 * @param projected [B, T, 4G]: W1x x_t + b1 for every step (gates f, i, o, g side by side).
 * @param w1h [H, 4G]: the recurrent rows of the gates' first layers.
 * @param w2 the gates' second layers, [G, H] each; b2 their biases, [H] each.
 * @param keep [B, 4G]: dropout scale of each gate hidden neuron, or null without dropout.
 * @returns h_t of every step, [B, T, H].
 */
export function graphRecurrence(projected: tf.Tensor, w1h: tf.Tensor, w2: tf.Tensor[], b2: tf.Tensor[], keep: tf.Tensor | null): tf.Tensor3D {
  const [B, , G4] = projected.shape;
  const [G, H] = w2[0].shape;
  // The cell update's part doubled: tanh(u) = 2 sigmoid(2u) - 1.
  const scaled = (k: number, t: tf.Tensor) => (k === 3 ? t.mul(2) : t);
  const w2bd = tf.concat(w2.map((w, k) => tf.concat([
    ...(k > 0 ? [tf.zeros([G, k * H])] : []),
    scaled(k, w),
    ...(k < 3 ? [tf.zeros([G, (3 - k) * H])] : []),
  ], 1)), 0);
  const b2all = tf.concat(b2.map((b, k) => scaled(k, b)));
  return stepRecurrence(projected, w1h, w2bd, b2all, keep ?? tf.ones([B, G4]));
}

/** The tensors of the forward pass that backpropagation reads, one per step. */
interface StepTrace {
  /** h_{t-1} and c_{t-1}, [B, H]. */
  hPrev: tf.Tensor[];
  cPrev: tf.Tensor[];
  /** Gate hidden outputs after dropout, [B, 4G]. */
  z: tf.Tensor[];
  /** Gate activations through one sigmoid (f, i, o, (g + 1) / 2), [B, 4H]. */
  act: tf.Tensor[];
  /** tanh(c_t), [B, H]. */
  th: tf.Tensor[];
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
function stepRecurrence(projected: tf.Tensor, w1h: tf.Tensor, w2bd: tf.Tensor, b2: tf.Tensor, keep: tf.Tensor): tf.Tensor3D {
  const run = tf.customGrad<tf.Tensor3D>((...args) => {
    const [xp, w1, w2, bias, k] = args.slice(0, 5) as tf.Tensor[];
    const save = args[5] as tf.GradSaveFunc;
    const { hs, trace } = stepsForward(xp, w1, w2, bias, k);
    // Inputs are saved too: the caller's tidy may dispose them before the backward pass.
    save([...trace.hPrev, ...trace.cPrev, ...trace.z, ...trace.act, ...trace.th, w1, w2, k]);
    const value = tf.stack(hs, 1) as tf.Tensor3D;
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const T = hs.length;
      const [hPrev, cPrev, z, act, th] = [0, 1, 2, 3, 4].map((j) => saved.slice(j * T, (j + 1) * T));
      const [w1Saved, w2Saved, kSaved] = saved.slice(5 * T);
      return stepsBackward(dy, { hPrev, cPrev, z, act, th }, w1Saved, w2Saved, kSaved);
    };
    return { value, gradFunc };
  });
  return run(projected, w1h, w2bd, b2, keep);
}

/** The forward pass step by step: h_t of every step ([B, H] each) and the trace for backpropagation. */
function stepsForward(xp: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, bias: tf.Tensor, k: tf.Tensor): { hs: tf.Tensor[]; trace: StepTrace } {
  const [B, T] = xp.shape;
  const H = w1.shape[0];
  const steps = tf.unstack(xp, 1);
  const hs: tf.Tensor[] = [tf.zeros([B, H])];
  const cs: tf.Tensor[] = [tf.zeros([B, H])];
  const trace: StepTrace = { hPrev: [], cPrev: [], z: [], act: [], th: [] };
  for (let t = 0; t < T; t++) {
    const z = leaky(tf.matMul(hs[t], w1).add(steps[t])).mul(k);
    const act = tf.sigmoid(tf.fused.matMul({ a: z, b: w2, bias }));
    const [f, i, o, g] = tf.split(act, 4, 1);
    const c = f.mul(cs[t]).add(i.mul(g.mul(2).sub(1)));
    const th = tf.tanh(c);
    trace.z.push(z);
    trace.act.push(act);
    trace.th.push(th);
    cs.push(c);
    hs.push(o.mul(th));
  }
  trace.hPrev = hs.slice(0, T);
  trace.cPrev = cs.slice(0, T);
  return { hs: hs.slice(1), trace };
}

/** Backpropagation through time: the gradients of the inputs of `stepRecurrence`, in its order. */
function stepsBackward(dy: tf.Tensor, trace: StepTrace, w1: tf.Tensor, w2: tf.Tensor, k: tf.Tensor): tf.Tensor[] {
  const { hPrev, cPrev, z, act, th } = trace;
  const T = act.length;
  const [B, H] = th[0].shape;
  const w1t = w1.transpose();
  const w2t = w2.transpose();
  const k01 = k.mul(0.01);
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
    dA[t] = tf.matMul(dPre[t], w2t).mul(tf.where(z[t].greater(0), k, k01));
    dhNext = tf.matMul(dA[t], w1t);
  }
  const dAll = tf.concat(dA, 0); // [T * B, 4G], step-major
  const dPreAll = tf.concat(dPre, 0);
  const dW1 = tf.matMul(tf.concat(hPrev, 0).transpose(), dAll);
  const dW2 = tf.matMul(tf.concat(z, 0).transpose(), dPreAll);
  const dX = dAll.reshape([T, B, -1]).transpose([1, 0, 2]);
  return [dX, dW1, dW2, dPreAll.sum(0), tf.zerosLike(k)];
}
