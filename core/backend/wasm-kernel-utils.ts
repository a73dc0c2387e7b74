/**
 * Helpers for wasm kernels that are composed of other, registered wasm kernels.
 *
 * A composed kernel calls the registered kernel functions directly (not tfjs
 * ops), so nothing is recorded on the gradient tape, and it frees every
 * intermediate it makes with `backend.disposeData`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** Runs the wasm kernel `name` and returns its single output. */
export function runWasmKernel(
  backend: BackendWasm,
  name: string,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new BonsaiError('BONSAI_CORE_ASSERT', `wasm kernel ${name} returned ${out.length} outputs, expected 1`);
  return out;
}

/** Frees intermediates made inside a composed kernel (never its inputs or output). */
export function disposeAll(backend: BackendWasm, infos: readonly tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
