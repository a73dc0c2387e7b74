/**
 * Valid lengths of the sequences of a padded batch, travelling with the batch
 * tensor: the task that pads a batch registers them (core/train/speech-task.ts),
 * and a sequence model reads them in its forward pass (core/models/ds2.ts).
 *
 * A side channel on purpose: `Layer.apply` and `MaskedModel.forward` take a tensor
 * and a `ForwardContext`, and the trainer passes a batch's tensor on without
 * knowing what it holds. Moving the lengths into the context would make every
 * task's batch and the trainer carry them for the one model that needs them. The
 * map holds its keys weakly, so the lengths vanish with the tensor; a model given
 * a tensor without lengths finds them another way (ds2: trailing all-zero frames).
 */
import type * as tf from '../tf.ts';

const sequenceLengths = new WeakMap<tf.Tensor, readonly number[]>();

/** Records the valid length (in frames) of each sequence of the padded batch `x` ([batch, time, ...]). */
export function setSequenceLengths(x: tf.Tensor, lengths: readonly number[]): void {
  sequenceLengths.set(x, Object.freeze([...lengths]));
}

/** The lengths registered for `x`, or undefined. */
export function sequenceLengthsOf(x: tf.Tensor): readonly number[] | undefined {
  return sequenceLengths.get(x);
}
