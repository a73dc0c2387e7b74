import * as tf from '@tensorflow/tfjs-core';
import assert from 'node:assert/strict';

/**
 * Runs `fn` and asserts that it leaves no tensor behind (tfjs `numTensors`
 * before and after are equal). Every core test wraps its body in this.
 */
export async function noLeaks<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  assert.equal(after, before, `tensor leak: ${after - before} tensors left behind (before ${before}, after ${after})`);
  return result;
}
