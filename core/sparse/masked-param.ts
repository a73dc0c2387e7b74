/**
 * A weight tensor W with its binary mask M (paper section 4.2.1: "a mask tensor Msk
 * to disregard the dangling connections for each weight tensor W").
 *
 * The forward pass uses W*M. After every optimizer step the masked entries of W are
 * re-zeroed (see core/train/optimizer.ts), so a dormant or pruned connection never
 * comes back unless growth sets its mask bit.
 */
import * as tf from '../tf.ts';

export interface MaskedParamArgs {
  /** Unique name, `<layer>/<kind>`, e.g. `fc1/kernel`. */
  name: string;
  /** Layer the parameter belongs to, e.g. `fc1`. */
  layer: string;
  /** `kernel` tensors are grown and pruned; `bias` and `scale` tensors stay dense. */
  kind: 'kernel' | 'bias' | 'scale';
  /** Initial values. Ownership passes to the parameter. */
  init: tf.Tensor;
  /** Initial mask (same shape, 0/1); all ones when omitted. Ownership passes to the parameter. */
  mask?: tf.Tensor;
  /** Axis of the kernel indexing the unit that receives the connection (dense [in,out]: 1; conv [kh,kw,in,out]: 3). */
  outAxis?: number;
  /** Axis of the kernel indexing the unit that sends the connection (dense: 0; conv: 2). */
  inAxis?: number;
  /**
   * Whether the sending units are neurons of the network (and so must keep an output
   * connection under recoverable pruning). False for the first layer, whose senders
   * are input pixels or features.
   */
  sendersAreNeurons?: boolean;
}

export class MaskedParam {
  readonly name: string;
  readonly layer: string;
  readonly kind: 'kernel' | 'bias' | 'scale';
  value: tf.Variable;
  mask: tf.Variable;
  readonly outAxis: number;
  readonly inAxis: number;
  readonly sendersAreNeurons: boolean;

  constructor(args: MaskedParamArgs) {
    this.name = args.name;
    this.layer = args.layer;
    this.kind = args.kind;
    const rank = args.init.rank;
    this.outAxis = args.outAxis ?? rank - 1;
    this.inAxis = args.inAxis ?? Math.max(0, rank - 2);
    this.sendersAreNeurons = args.sendersAreNeurons ?? true;
    const mask = args.mask ?? tf.onesLike(args.init);
    this.mask = tf.variable(mask, false);
    this.value = tf.ownedVariable(tf.tidy(() => args.init.mul(mask)), true);
    args.init.dispose();
    mask.dispose();
  }

  get shape(): number[] {
    return this.value.shape;
  }

  get size(): number {
    return this.value.size;
  }

  /** Whether growth and pruning apply to this tensor. */
  get sparse(): boolean {
    return this.kind === 'kernel';
  }

  /** W*M: the weights the forward pass uses. */
  effective(): tf.Tensor {
    return this.value.mul(this.mask);
  }

  /** Number of live (mask = 1) entries. */
  live(): number {
    return tf.tidy(() => this.mask.sum().dataSync()[0]);
  }

  /** Replaces the mask and re-zeroes W where the new mask is 0. Takes ownership of `mask`. */
  setMask(mask: tf.Tensor): void {
    this.mask.assign(mask);
    tf.tidy(() => this.value.assign(this.value.mul(this.mask)));
    mask.dispose();
  }

  /** Replaces W (masked). Takes ownership of `value`. */
  setValue(value: tf.Tensor): void {
    tf.tidy(() => this.value.assign(value.mul(this.mask)));
    value.dispose();
  }

  /**
   * Replaces both tensors with ones of a new shape (the output layer growing a unit).
   * Takes ownership of both; the old variables are disposed.
   */
  replace(value: tf.Tensor, mask: tf.Tensor): void {
    const oldValue = this.value;
    const oldMask = this.mask;
    this.mask = tf.variable(mask, false);
    this.value = tf.ownedVariable(tf.tidy(() => value.mul(mask)), true);
    value.dispose();
    mask.dispose();
    oldValue.dispose();
    oldMask.dispose();
  }

  dispose(): void {
    this.value.dispose();
    this.mask.dispose();
  }
}
