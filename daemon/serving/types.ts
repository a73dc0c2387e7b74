/**
 * What the serving layer needs from a model: a loaded, predict-ready network
 * with its labels and input shape. The registry's loader builds these from
 * `models/<N>/`; tests use fakes.
 */
import type { Modality, Preprocessing } from '../../pipelines/types.ts';
import type { DriftReference } from '../metrics/drift.ts';

/** A model loaded into memory and ready to answer predictions. */
export interface LoadedModel {
  /** Registry version (integer directory name under `models/`). */
  readonly version: number;
  /** Class labels; `labels[k]` names output column k. */
  readonly labels: readonly string[];
  /** Shape of one sample, without the batch dimension, e.g. `[28, 28, 1]`. */
  readonly inputShape: readonly number[];
  /** How its training samples were decoded (its manifest's `extra.preprocessing`); requests are decoded the same way. */
  readonly preprocessing?: Preprocessing;
  /** Which pipeline turns files into this model's input. */
  readonly modality: Modality;
  /** Summary of the training inputs and labels, for drift scores (optional). */
  readonly driftReference?: DriftReference;
  /**
   * Class probabilities of `n` samples laid out row-major in `batch`
   * (`n * prod(inputShape)` values). Resolves to `n * labels.length` values.
   */
  predict(batch: Float32Array, n: number): Promise<Float32Array>;
  /**
   * Speech models only (daemon/speech.ts): the transcript of each utterance, given
   * as `frames x inputShape[0]` features, row-major (any number of frames). Their
   * `inputShape` is one frame, their `labels` the output characters, and
   * `predict` rejects: they answer transcripts, not class scores.
   */
  transcribe?(utterances: readonly Float32Array[]): Promise<string[]>;
  /** Runs the model once or more so that the first real request is not slow. */
  warmUp(): Promise<void>;
  /** Frees the model's tensors. Called exactly once, when no request uses it. */
  dispose(): void;
}

/** Loads one registry version (reads, validates, builds the network). */
export type ModelLoader = (version: number) => Promise<LoadedModel>;

/** The input description preprocessing needs to produce a sample for a model. */
export interface ModelInput {
  readonly version: number;
  readonly modality: Modality;
  readonly inputShape: readonly number[];
  /** How its training samples were decoded (from its manifest; absent in versions made before it was kept). */
  readonly preprocessing?: Preprocessing;
}

/** Number of values in one sample of `shape`. */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
