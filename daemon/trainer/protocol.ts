/**
 * The messages between the daemon and its trainer child process (Node IPC,
 * JSON). The parent sends one `run` with a `TrainJob`; the child answers with
 * `progress` messages, then exactly one `done` or `error`, and exits.
 */
import type { PairedEvidence, CostSummary, Phase, PruneReport, UpdateConfig } from '../../core/index.ts';
import { BonsaiError, type ErrorCode } from '../../core/errors.ts';
import { systemErrorCode } from '../storage.ts';
import type { ModelOptions } from '../../core/models/options.ts';
import type { Modality, Preprocessing } from '../../pipelines/types.ts';
import type { TriggerKind } from '../triggers/policy.ts';
import type { ClassBreakdown } from './classes.ts';
import type { DataSelectionReport } from './selection.ts';

/** The network to train: architecture, input shape and options (the class count comes from the store's labels). */
export interface ModelChoice {
  /** `lenet300`, `lenet5`, `resnet18`, `mlp` (classification), `ds2` (speech, daemon/speech.ts). */
  arch: string;
  /** Shape of one sample, e.g. `[28, 28, 1]`; for a speech model the features of one frame, `[39]` (utterances have any number of frames). */
  inputShape: number[];
  /** Architecture options, e.g. `{ hidden: [32] }` for `mlp` (core/models/options.ts). */
  options?: ModelOptions;
}

/** Everything the child needs to run one update. */
export interface TrainJob {
  /** Update id (the scheduler's). */
  id: string;
  trigger: TriggerKind;
  /** State directory: the store is `store.db` (opened read-only), the registry `models/`. */
  stateDir: string;
  /** Train on samples with arrival sequence <= this (snapshot taken by the parent at the start). */
  upToSeq: number;
  /** Registry version to grow from; null trains the first model. */
  champion: number | null;
  model: ModelChoice;
  modality: Modality;
  /** The config's preprocessing at training time (`model.image` resize and range, `model.audio`), kept in the manifest for serving. */
  preprocessing?: Preprocessing;
  /** Grow-and-prune settings. */
  update: UpdateConfig;
  /** Compute backend (config `backend`). */
  backend: { name: string; threads: number | null };
  /** Bins of the drift reference saved with the candidate. */
  driftBins: number;
  /** Memory budget of the update's features in bytes (config `algorithm.trainingDataMegabytes`); null = no bound. */
  dataBudgetBytes?: number | null;
}

/** Progress of the update, relayed from core's trainer hooks. */
export interface TrainProgress {
  /** `load`, `growth-new`, `growth-all`, `train`, `prune`, `prune-nonrecoverable`, `eval`, `evaluate`, `publish`. */
  phase: Phase;
  /** `phase` (a phase began), `epoch`, `grow`, `prune`, `eval`. */
  kind: 'phase' | 'epoch' | 'grow' | 'prune' | 'eval';
  step?: number;
  steps?: number;
  loss?: number;
  /** Fraction of kernel connections live. */
  density?: number;
  errorRate?: number;
  changed?: number;
}

/** Sizes of the data of an update. */
export interface DataSizes {
  /** Pending training samples (the new data). */
  newData: number;
  /** All training samples up to the snapshot. */
  allData: number;
  validation: number;
  test: number;
  /** Samples skipped because their shape does not fit the model or they carry no class label. */
  skipped: number;
  /** Present when the data exceeded the memory budget: what was read of each split (daemon/trainer/selection.ts). */
  selection?: DataSelectionReport;
}


/** What the child reports after publishing the candidate. */
export interface TrainResult {
  /** A classifier's validation error by class (null for speech, or without validation samples of a class). */
  classes?: ClassBreakdown | null;
  /** The candidate's registry version (state `candidate`). */
  version: number;
  /** The champion it grew from (null for the first model). */
  parent: number | null;
  /** Validation error of the candidate and of the champion on the same samples (null: no champion). */
  candidateError: number;
  championError: number | null;
  /** Per-sample comparison of candidate and champion on the validation samples (null: no champion). */
  gateEvidence: PairedEvidence | null;
  /** Whether the validation set can resolve the loss pruning and the gate judge (core/prune/decision.ts). */
  validationAdequacy: { samples: number; error: number; adequate: boolean; minSamples: number };
  /** Test-split error of both (null when the test split is empty or there is no champion). */
  candidateTestError: number | null;
  championTestError: number | null;
  sizes: DataSizes;
  /** Class labels in output order. */
  labels: string[];
  liveParams: number;
  denseParams: number;
  density: number;
  /** Live and total connections per layer. */
  layers: Array<{ layer: string; live: number; total: number }>;
  cost: CostSummary;
  /** Seconds per phase, `load`, `evaluate` and `publish` included. */
  timings: Partial<Record<Phase, number>>;
  /** tfjs backend the child trained on. */
  backend: string;
  /**
   * How pruning went: iterations tried and accepted, why it stopped, its reference's validation
   * error (a stall, pruning stopped near dense, shows as few accepted and a high density).
   */
  prune: PruneSummary;
}

/** A pruning phase in numbers (core/prune/iterative.ts `PruneReport`). */
export interface PruneSummary {
  iterations: number;
  accepted: number;
  stop: PruneReport['stop'];
  referenceError: number;
  /** Retrained draws the reference averages (`algorithm.referenceDraws`). */
  referenceDraws: number;
}

/** Parent -> child. */
export type ParentMessage = { type: 'run'; job: TrainJob };

/** An error as it crosses the process boundary. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
  stack?: string;
}

/** Child -> parent. */
export type ChildMessage =
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'done'; result: TrainResult }
  | { type: 'error'; error: WireError };

/** An error for the parent; a system error's code (e.g. ENOSPC), here or in a cause, travels as `details.errno`. */
export function errorToWire(err: unknown): WireError {
  const errno = systemErrorCode(err);
  if (err instanceof BonsaiError) return { code: err.code, message: err.message, details: { ...err.details, ...(errno && { errno }) }, stack: err.stack };
  const e = err instanceof Error ? err : new Error(String(err));
  return { code: 'BONSAI_DAEMON_TRAINER_FAILED', message: e.message, details: { name: e.name, ...(errno && { errno }) }, stack: e.stack };
}
