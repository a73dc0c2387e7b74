/**
 * The one trainer every strategy (grow-and-prune, TFS, NFT) shares: epochs of
 * masked SGD, growth-evaluation epochs with updates paused, evaluation, cost
 * accounting, and typed hooks around each epoch (Avalanche-style plugins).
 */
import * as tf from '../tf.ts';
import type { MaskedModel } from '../models/model.ts';
import { MaskedOptimizer, type OptimizerArgs } from './optimizer.ts';
import { CostLedger } from './cost.ts';
import { backward } from './step.ts';
import type { SampleErrors, Task } from './task.ts';
import type { Phase } from './phase.ts';

/** Progress of long work, reported after every epoch (and growth or pruning step). */
export interface ProgressEvent {
  /** The phase (core's: `growth-new`, `growth-all`, `train`, `prune`, `prune-nonrecoverable`, `eval`). */
  phase: Phase;
  /** What happened: an epoch of training, a growth step, a pruning iteration. */
  kind: 'epoch' | 'grow' | 'prune' | 'eval';
  /** 1-based index within the phase, and the planned count when known. */
  step: number;
  steps?: number;
  /** Mean training loss of the epoch. */
  loss?: number;
  /** Fraction of kernel connections live. */
  density: number;
  /** Validation error rate when measured. */
  errorRate?: number;
  /** Connections grown or pruned by this step. */
  changed?: number;
  /** Learning rate the epoch trained at. */
  learningRate?: number;
}

export interface TrainerHooks {
  beforeEpoch?(phase: string, epoch: number): void;
  afterEpoch?(phase: string, epoch: number, loss: number): void;
  onProgress?(event: ProgressEvent): void;
}

export interface TrainerArgs<D extends { n: number }> {
  model: MaskedModel;
  task: Task<D>;
  /** Mini-batch size. */
  batchSize: number;
  /** Optimizer settings; the learning rate is also eta of growth initialisation. */
  optimizer: OptimizerArgs;
  /** Seed of shuffles and augmentation. */
  seed: number;
  /** Cost ledger shared by all phases of one update. */
  cost?: CostLedger;
  hooks?: TrainerHooks;
  /** Whether training batches go through the task's augmentation. */
  augment?: boolean;
}

export class Trainer<D extends { n: number }> {
  readonly model: MaskedModel;
  readonly task: Task<D>;
  readonly batchSize: number;
  readonly optimizer: MaskedOptimizer;
  readonly cost: CostLedger;
  readonly hooks: TrainerHooks;
  private readonly augment: boolean;
  private seed: number;
  /** Running sums of parameters and state while a tail average is taken (see `beginAverage`). */
  private average: { skip: number; seen: number; steps: number; sums: tf.Variable[] } | null = null;

  constructor(args: TrainerArgs<D>) {
    this.model = args.model;
    this.task = args.task;
    this.batchSize = args.batchSize;
    this.optimizer = new MaskedOptimizer(args.optimizer);
    this.cost = args.cost ?? new CostLedger();
    this.hooks = args.hooks ?? {};
    this.augment = args.augment ?? false;
    this.seed = args.seed;
  }

  private nextSeed(): number {
    this.seed = (this.seed * 1103515245 + 12345) >>> 0;
    return this.seed;
  }

  /**
   * One epoch of training on `data` (or its first `maxSamples` samples in shuffled
   * order, for partial recovery epochs). Returns the mean loss.
   */
  trainEpoch(data: D, phase: string, epoch: number, maxSamples = Infinity): number {
    this.hooks.beforeEpoch?.(phase, epoch);
    const flops = this.model.flopsPerSample();
    let lossSum = 0;
    let seen = 0;
    this.cost.timed(phase, () => {
      const seed = this.nextSeed();
      for (const batch of this.task.trainBatches(data, this.batchSize, seed)) {
        const x = this.augment && this.task.augment ? this.task.augment(batch.x, seed + seen) : batch.x;
        // Live connections only: the masked update drops the rest (core/train/sparse-fc.ts).
        const { loss, grads } = backward(this.model, this.task, batch, x, 'live');
        if (x !== batch.x) x.dispose();
        this.optimizer.step(this.model.params, grads);
        grads.forEach((g) => g.dispose());
        if (this.average) this.accumulate(this.average, batch.size);
        lossSum += loss * batch.size;
        seen += batch.size;
        batch.dispose();
        if (seen >= maxSamples) break;
      }
    });
    this.cost.train(phase, seen, flops);
    const loss = seen ? lossSum / seen : 0;
    this.hooks.afterEpoch?.(phase, epoch, loss);
    return loss;
  }

  /**
   * Starts a tail average of the iterates (Polyak averaging, as in stochastic weight
   * averaging): every training step after the next `skip` samples adds the parameters and
   * the model's state to a running sum; `applyAverage` replaces them by the mean.
   */
  beginAverage(skip: number): void {
    this.endAverage();
    this.average = { skip, seen: 0, steps: 0, sums: this.averaged().map((t) => tf.ownedVariable(tf.zerosLike(t))) };
  }

  /** What an average covers: every parameter's value, then the model's state (batch-norm statistics). */
  private averaged(): tf.Variable[] {
    return [...this.model.params.map((p) => p.value), ...this.model.state];
  }

  private accumulate(avg: NonNullable<Trainer<D>['average']>, samples: number): void {
    avg.seen += samples;
    if (avg.seen <= avg.skip) return;
    tf.tidy(() => this.averaged().forEach((t, i) => avg.sums[i].assign(avg.sums[i].add(t))));
    avg.steps += 1;
  }

  /**
   * Replaces parameters and state by their mean over the averaged steps and stops averaging
   * (nothing changes when no step was averaged). Masked connections are zero in every
   * iterate, so they stay zero. Returns the number of steps averaged.
   */
  applyAverage(): number {
    const avg = this.average;
    if (!avg) return 0;
    if (avg.steps > 0) tf.tidy(() => this.averaged().forEach((t, i) => t.assign(avg.sums[i].div(avg.steps))));
    const steps = avg.steps;
    this.endAverage();
    return steps;
  }

  private endAverage(): void {
    this.average?.sums.forEach((s) => s.dispose());
    this.average = null;
  }

  /**
   * Growth evaluation (paper section 4.2.1): the gradient of the loss w.r.t. the
   * effective weights, accumulated over one epoch with parameter updates paused and
   * averaged. Returns one signed Float32Array per kernel of `model.kernels`.
   */
  growthGradients(data: D, phase: string): Float32Array[] {
    const kernels = this.model.kernels;
    const index = new Map(this.model.params.map((p, i) => [p.name, i]));
    const sums = kernels.map((k) => tf.ownedVariable(tf.zerosLike(k.value)));
    const flops = this.model.flopsPerSample();
    let seen = 0;
    this.cost.timed(phase, () => {
      for (const batch of this.task.trainBatches(data, this.batchSize, this.nextSeed())) {
        // Every connection's gradient (the default scope): dormant ones are what growth ranks.
        const { grads } = backward(this.model, this.task, batch);
        kernels.forEach((k, i) => {
          tf.tidy(() => sums[i].assign(sums[i].add(grads[index.get(k.name) as number].mul(batch.size))));
        });
        grads.forEach((g) => g.dispose());
        seen += batch.size;
        batch.dispose();
      }
    });
    // Dense flops: the gradient of every connection, dormant ones included, is computed.
    this.cost.train(phase, seen, { dense: flops.dense, sparse: flops.dense });
    // Read outside tf.tidy: tidy walks a returned typed array element by element.
    const out = sums.map((s) => {
      const mean = tf.tidy(() => s.div(Math.max(seen, 1)));
      const values = mean.dataSync() as Float32Array;
      mean.dispose();
      return values;
    });
    sums.forEach((s) => s.dispose());
    return out;
  }

  /** Error rate on `data` (forward passes only; counted as evaluation). */
  errorRate(data: D, phase: string): number {
    this.cost.evaluate(phase, data.n, this.model.flopsPerSample());
    return this.cost.timed(phase, () => this.task.errorRate(this.model, data, Math.max(this.batchSize, 256)));
  }

  /** Per-sample errors on `data` (one forward pass; counted as evaluation). */
  sampleErrors(data: D, phase: string): SampleErrors {
    this.cost.evaluate(phase, data.n, this.model.flopsPerSample());
    return this.cost.timed(phase, () => this.task.sampleErrors(this.model, data, Math.max(this.batchSize, 256)));
  }

  progress(event: Omit<ProgressEvent, 'density'>): void {
    this.hooks.onProgress?.({ ...event, density: this.model.density() });
  }

  dispose(): void {
    this.endAverage();
    this.optimizer.dispose();
  }
}
