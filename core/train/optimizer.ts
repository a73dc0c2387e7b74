/**
 * Optimizers over masked parameters. tfjs's own optimizers keep their slots out of
 * reach, so a pruned connection could come back through its momentum; these keep
 * every slot beside its parameter and re-zero both W and the slots with the mask
 * after each step (DESIGN.md, "Masked layers").
 *
 * SGD updates a parameter with one fused kernel where that is faster (cpu; wasm for
 * small tensors: core/backend/masked-sgd.ts, bit for bit the ops below), else with
 * tfjs ops.
 */
import * as tf from '../tf.ts';
import type { MaskedParam } from '../sparse/masked-param.ts';
import { maskedSgd, useMaskedSgd } from '../backend/masked-sgd.ts';

export interface OptimizerArgs {
  /** `sgd` (with momentum) or `adam`. */
  kind: 'sgd' | 'adam';
  /** Learning rate (eta of the paper; growth initialises new weights from it). */
  learningRate: number;
  /** SGD momentum. */
  momentum?: number;
  /** L2 weight decay added to the gradient of kernels. */
  weightDecay?: number;
  /** Adam beta1, beta2, epsilon. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class MaskedOptimizer {
  readonly args: Required<OptimizerArgs>;
  private readonly slots = new Map<string, tf.Variable[]>();
  private t = 0;

  constructor(args: OptimizerArgs) {
    this.args = { momentum: 0.9, weightDecay: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, ...args };
  }

  get learningRate(): number {
    return this.args.learningRate;
  }

  set learningRate(lr: number) {
    this.args.learningRate = lr;
  }

  /**
   * One step. `grads[i]` is dL/dW of `params[i]` (already masked or not: it is masked
   * here). Afterwards W, and every slot, are zero wherever the mask is zero.
   */
  step(params: MaskedParam[], grads: tf.Tensor[]): void {
    this.t += 1;
    const { learningRate: lr, momentum, weightDecay, beta1, beta2, epsilon, kind } = this.args;
    params.forEach((p, i) => {
      const slots = this.slotsOf(p, kind === 'adam' ? 2 : 1);
      if (kind === 'sgd' && useMaskedSgd(p.size)) {
        const [v, w] = maskedSgd(grads[i], p.mask, slots[0], p.value, { momentum, learningRate: lr, weightDecay: weightDecay > 0 && p.kind === 'kernel' ? weightDecay : 0 });
        slots[0].assign(v);
        p.value.assign(w);
        tf.dispose([v, w]);
        return;
      }
      tf.tidy(() => {
        let g = grads[i].mul(p.mask);
        if (weightDecay > 0 && p.kind === 'kernel') g = g.add(p.value.mul(weightDecay));
        if (kind === 'sgd') {
          const v = slots[0].mul(momentum).add(g).mul(p.mask);
          slots[0].assign(v);
          p.value.assign(p.value.sub(v.mul(lr)).mul(p.mask));
        } else {
          const m = slots[0].mul(beta1).add(g.mul(1 - beta1)).mul(p.mask);
          const v = slots[1].mul(beta2).add(g.square().mul(1 - beta2)).mul(p.mask);
          slots[0].assign(m);
          slots[1].assign(v);
          const mHat = m.div(1 - beta1 ** this.t);
          const vHat = v.div(1 - beta2 ** this.t);
          p.value.assign(p.value.sub(mHat.div(vHat.sqrt().add(epsilon)).mul(lr)).mul(p.mask));
        }
      });
    });
  }

  /** The slots of a parameter (created zero on first use; recreated if its shape changed). */
  slotsOf(p: MaskedParam, count: number): tf.Variable[] {
    let slots = this.slots.get(p.name);
    if (!slots || slots[0].shape.join() !== p.shape.join()) {
      slots?.forEach((s) => s.dispose());
      slots = Array.from({ length: count }, () => tf.ownedVariable(tf.zerosLike(p.value)));
      this.slots.set(p.name, slots);
    }
    return slots;
  }

  /** Zeroes every slot where the parameter's mask is zero (after growth or pruning changed a mask). */
  syncMasks(params: MaskedParam[]): void {
    for (const p of params) {
      const slots = this.slots.get(p.name);
      if (!slots || slots[0].shape.join() !== p.shape.join()) continue;
      for (const s of slots) tf.tidy(() => s.assign(s.mul(p.mask)));
    }
  }

  dispose(): void {
    for (const slots of this.slots.values()) slots.forEach((s) => s.dispose());
    this.slots.clear();
  }
}
