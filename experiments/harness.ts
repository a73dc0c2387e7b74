/**
 * What the paper's experiments share (MNIST, section 5.1; FSDD, section 5.3): data
 * arrives part by part and every method (TFS, NFT, grow-and-prune) updates its own
 * model at each arrival; each update is reported as one row; a long run saves a
 * checkpoint after each arrival and resumes from it; results are written as
 * markdown tables and plotted per method.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BonsaiError } from '../core/errors.ts';
import { type StrategyName, type StrategyState, type UpdateResult, loadModel, saveModel } from '../core/index.ts';
import type { Point } from './plot.ts';

/** The three methods of the paper's comparisons, in the order the tables list them. */
export const METHODS: readonly StrategyName[] = ['tfs', 'nft', 'ours'];

/** Each method's state between arrivals. */
export type MethodStates = Partial<Record<StrategyName, StrategyState>>;

/** One arrival of data and the methods that update on it. */
export interface Arrival<D> {
  /** Position among the run's arrivals (0-based). */
  index: number;
  /** Fraction of the data (or of the speakers) seen once it has arrived. */
  fraction: number;
  /** Names the arrival in progress lines. */
  label: string;
  /** The samples that arrived. */
  newData: D;
  /** Every sample so far, the new ones included. */
  allData: D;
  /** The methods updated on it, in order. */
  methods: readonly StrategyName[];
}

/**
 * The loop of arrivals x methods and what happens around each update. `U` is what an
 * update returns: its new state and what the experiment measured of it; `A` is the
 * experiment's arrival (FSDD's speaker arrivals say which speaker is new).
 */
export interface ArrivalLoop<D, U extends { state: StrategyState }, A extends Arrival<D> = Arrival<D>> {
  /** The arrivals, in order (a generator builds each one when it is reached). */
  arrivals: Iterable<A>;
  /** The methods' states before the first arrival; updated in place. */
  states: MethodStates;
  /** Called before an update with the state it starts from (FSDD scores the new speaker here). */
  beforeUpdate?: (method: StrategyName, previous: StrategyState | null, arrival: A) => void;
  /** Runs one update; the previous state is consumed. */
  update: (method: StrategyName, previous: StrategyState | null, arrival: A) => U;
  /** Reports one update; its state is already in `states`. */
  record: (method: StrategyName, outcome: U, arrival: A) => void;
  /** Called once every method has updated on an arrival (MNIST saves its checkpoint here). */
  afterArrival?: (arrival: A) => Promise<void>;
}

/** Runs every method's update at every arrival, in order; returns the final states. */
export async function runArrivals<D, U extends { state: StrategyState }, A extends Arrival<D> = Arrival<D>>(loop: ArrivalLoop<D, U, A>): Promise<MethodStates> {
  for (const arrival of loop.arrivals) {
    for (const method of arrival.methods) {
      const previous = loop.states[method] ?? null;
      loop.beforeUpdate?.(method, previous, arrival);
      const outcome = loop.update(method, previous, arrival);
      loop.states[method] = outcome.state;
      loop.record(method, outcome, arrival);
    }
    await loop.afterArrival?.(arrival);
  }
  return loop.states;
}

/** Frees one method's models. */
export function disposeState(state: StrategyState | null | undefined): void {
  state?.model.dispose();
  state?.dense?.dispose();
}

/** Frees every method's models. */
export function disposeStates(states: MethodStates): void {
  for (const state of Object.values(states)) disposeState(state);
}

/** What every experiment reports of one update. */
export interface UpdateRow {
  /** Fraction of the data (or of the speakers) used. */
  fraction: number;
  method: StrategyName;
  /** The test metric (error rate or WER), a fraction. */
  errorRate: number;
  params: number;
  denseParams: number;
  /** Epochs-equivalent: sample-epochs / |all data so far|. */
  epochs: number;
  sampleEpochs: number;
  /** sampleEpochs + validation samples / 3 (forward-only passes at a third of a training pass). */
  costWithEval: number;
  flops: number;
  wallSeconds: number;
  validationError: number;
  prePruneValidationError: number;
  /** Pruning iterations kept. */
  pruneIterations: number;
  phases: Record<string, { sampleEpochs: number; wallSeconds: number }>;
}

/** The row of one update, given its test metric. */
export function updateRow(fraction: number, method: StrategyName, errorRate: number, result: UpdateResult): UpdateRow {
  const model = result.state.model;
  return {
    fraction, method, errorRate, params: model.liveParams(), denseParams: model.denseParams(),
    epochs: result.cost.epochs, sampleEpochs: result.cost.sampleEpochs, costWithEval: Math.round(result.cost.withEvaluation.sampleEpochs),
    flops: result.cost.flops, wallSeconds: result.cost.wallSeconds, validationError: result.validationError,
    prePruneValidationError: result.prePruneError, pruneIterations: result.prune.iterations.filter((i) => i.accepted).length,
    phases: Object.fromEntries(Object.entries(result.cost.phases).map(([k, v]) => [k, { sampleEpochs: v.sampleEpochs, wallSeconds: v.wallSeconds }])),
  };
}

/** What a resumable run has done so far. */
export interface Checkpoint<R> {
  /** The settings the checkpoint was made with; a resume must match them. */
  fingerprint: string;
  completedRounds: number;
  rounds: R[];
}

/** Saves the methods' models and the checkpoint into `dir`, replacing it whole (written beside it, then renamed). */
export async function saveCheckpoint<R>(dir: string, states: MethodStates, checkpoint: Checkpoint<R>): Promise<void> {
  const tmp = `${dir}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  for (const [method, state] of Object.entries(states)) {
    if (!state) continue;
    await saveModel(state.model, join(tmp, method, 'model'), { parent: null });
    if (state.dense) await saveModel(state.dense, join(tmp, method, 'dense'), { parent: null });
  }
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'checkpoint.json'), JSON.stringify(checkpoint));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/**
 * The checkpoint in `dir` and the methods' models, or null when there is none.
 * A checkpoint made with other settings is refused (BONSAI_BENCH_CHECKPOINT_MISMATCH).
 */
export async function resumeCheckpoint<R>(dir: string, fingerprint: string): Promise<{ states: MethodStates; checkpoint: Checkpoint<R> } | null> {
  if (!existsSync(join(dir, 'checkpoint.json'))) return null;
  const checkpoint = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8')) as Checkpoint<R>;
  if (checkpoint.fingerprint !== fingerprint) {
    throw new BonsaiError('BONSAI_BENCH_CHECKPOINT_MISMATCH', `${dir} was made with other settings; delete it or choose another --out`, { checkpointDir: dir });
  }
  const states: MethodStates = {};
  for (const method of METHODS) {
    if (!existsSync(join(dir, method, 'model'))) continue;
    const { model } = await loadModel(join(dir, method, 'model'));
    const dense = existsSync(join(dir, method, 'dense')) ? (await loadModel(join(dir, method, 'dense'))).model : undefined;
    states[method] = { model, dense };
  }
  return { states, checkpoint };
}

/** A fraction as a percentage with two decimals; '-' when there is none. */
export function pct(v: number | undefined): string {
  return v === undefined ? '-' : (v * 100).toFixed(2);
}

/**
 * A markdown table: the header, the alignment row (one letter a column, `l` left,
 * `r` right), then the rows.
 */
export function markdownTable(header: readonly string[], align: string, rows: ReadonlyArray<ReadonlyArray<string | number>>): string[] {
  const line = (cells: ReadonlyArray<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), `|${[...align].map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map(line)];
}

/** One point a row, x the percentage of the data used, one series a method. */
export function methodSeries<R extends { fraction: number; method: StrategyName }>(rows: readonly R[], metric: (r: R) => number): Point[] {
  return rows.map((r) => ({ x: r.fraction * 100, y: metric(r), series: r.method }));
}
