/**
 * A task tells the trainer how to batch its data, what the loss is and how errors
 * are counted, so the same trainer, growth and pruning serve image classification
 * and speech recognition.
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';
import { type Dataset, orderedBatches, shuffledBatches } from '../data/dataset.ts';

/** Per-sample errors of a model on a dataset; `rate` = sum(errors) / units. */
export interface SampleErrors {
  errors: Float32Array;
  units: number;
  rate: number;
}

/** One batch of any task; the trainer disposes `x` and calls `dispose` when done. */
export interface TaskBatch {
  x: tf.Tensor;
  size: number;
  /** Task-specific targets (class tensor, label sequences, ...). */
  target: unknown;
  dispose(): void;
}

export interface Task<D extends { n: number }> {
  /** Training batches in a seeded random order. */
  trainBatches(data: D, batchSize: number, seed: number): Iterable<TaskBatch>;
  /** Batches in order (evaluation). */
  evalBatches(data: D, batchSize: number): Iterable<TaskBatch>;
  /** Scalar loss of a batch, from the model's output. */
  loss(output: tf.Tensor, batch: TaskBatch): tf.Scalar;
  /** Error rate of the model on `data` (fraction): classification error, or WER. */
  errorRate(model: MaskedModel, data: D, batchSize: number): number;
  /**
   * Errors of the model on each sample of `data`, in order (0/1 for a class, word
   * edits for speech), and the units of the rate (samples, or reference words):
   * the per-sample view the paired "no loss" decision compares (core/prune/decision.ts).
   */
  sampleErrors(model: MaskedModel, data: D, batchSize: number): SampleErrors;
  /** Optional training-time transform of the inputs (augmentation). */
  augment?: (x: tf.Tensor, seed: number) => tf.Tensor;
  /**
   * What `loss` computes, when it is a form core/train/dense-chain.ts differentiates by
   * hand: `softmax-cross-entropy` is -mean(sum(logSoftmax(output) * oneHot(target), 1))
   * on an int32 class tensor `target`.
   */
  lossKind?: 'softmax-cross-entropy';
}

function classBatch(b: { x: tf.Tensor; y: tf.Tensor1D; size: number }): TaskBatch {
  return { x: b.x, size: b.size, target: b.y, dispose: () => { b.x.dispose(); b.y.dispose(); } };
}

/** Softmax cross-entropy classification over a `Dataset`. */
export function classificationTask(options: { augment?: (x: tf.Tensor, seed: number) => tf.Tensor } = {}): Task<Dataset> {
  return {
    trainBatches: function* (data, batchSize, seed) {
      for (const b of shuffledBatches(data, batchSize, seed)) yield classBatch(b);
    },
    evalBatches: function* (data, batchSize) {
      for (const b of orderedBatches(data, batchSize)) yield classBatch(b);
    },
    loss(output, batch) {
      return tf.tidy(() => {
        const y = batch.target as tf.Tensor1D;
        const logp = tf.logSoftmax(output);
        return tf.neg(tf.mean(tf.sum(logp.mul(tf.oneHot(y, output.shape[1] as number)), 1))) as tf.Scalar;
      });
    },
    errorRate(model, data, batchSize) {
      return classErrors(model, data, batchSize).rate;
    },
    sampleErrors: classErrors,
    augment: options.augment,
    lossKind: 'softmax-cross-entropy',
  };
}

/** 0/1 errors of the argmax class on each sample of `data`. */
export function classErrors(model: MaskedModel, data: Dataset, batchSize: number): SampleErrors {
  const errors = new Float32Array(data.n);
  let offset = 0;
  let wrong = 0;
  // W*M once for all batches (the weights do not change during an evaluation): the same
  // values, without forming W*M and, on wasm, packing every filter again per batch
  // (ResNet-18: half the time of an evaluation).
  const weights = data.n > batchSize ? model.snapshotWeights() : undefined;
  try {
    for (const b of orderedBatches(data, batchSize)) {
      const miss = tf.tidy(() => model.forward(b.x, { training: false, ...(weights && { weights }) }).argMax(1).notEqual(b.y.cast('int32')).cast('float32'));
      const values = miss.dataSync();
      errors.set(values, offset);
      for (let i = 0; i < values.length; i++) wrong += values[i];
      offset += values.length;
      miss.dispose();
      b.x.dispose();
      b.y.dispose();
    }
  } finally {
    weights?.dispose();
  }
  return { errors, units: data.n, rate: data.n === 0 ? 0 : wrong / data.n };
}
