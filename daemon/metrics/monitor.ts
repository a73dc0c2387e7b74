/**
 * What the server remembers of recent predictions for drift metrics: the
 * per-sample input summaries and predicted classes of the last `window`
 * samples, scored against the live model's training reference.
 */
import { BonsaiError } from '../../core/errors.ts';
import { driftScores, sampleSummaries, type DriftReference, type DriftScore } from './drift.ts';

/** The part of a served model the monitor reads. */
export interface MonitoredModel {
  readonly version: number;
  readonly labels: readonly string[];
  readonly driftReference?: DriftReference;
}

/** Options of `ServingMonitor`. */
export interface ServingMonitorArgs {
  /** Number of most recent samples kept (default 1000). */
  window?: number;
  /** Fewest samples before drift scores are reported (default 100); fewer give noisy scores. */
  minSamples?: number;
}

/** Sliding window of recent served samples; reset when the served version changes. */
export class ServingMonitor {
  readonly window: number;
  readonly minSamples: number;
  private model: MonitoredModel | null = null;
  private readonly means: Float64Array;
  private readonly stds: Float64Array;
  private readonly classes: Int32Array;
  private next = 0;
  private filled = 0;

  constructor(args: ServingMonitorArgs = {}) {
    this.window = args.window ?? 1000;
    this.minSamples = args.minSamples ?? 100;
    if (!Number.isInteger(this.window) || this.window < 1 || !Number.isInteger(this.minSamples) || this.minSamples < 1) {
      throw new BonsaiError('BONSAI_DAEMON_BAD_WINDOW', `window (${this.window}) and minSamples (${this.minSamples}) must be positive integers`, { window: this.window, minSamples: this.minSamples });
    }
    this.means = new Float64Array(this.window);
    this.stds = new Float64Array(this.window);
    this.classes = new Int32Array(this.window);
  }

  /** Records `n` served samples (row-major in `batch`) and their predicted classes. */
  observe(model: MonitoredModel, batch: Float32Array, n: number, sampleSize: number, predicted: ArrayLike<number>): void {
    if (this.model === null || this.model.version !== model.version) {
      this.model = model;
      this.next = 0;
      this.filled = 0;
    }
    const { mean, std } = sampleSummaries(batch, n, sampleSize);
    for (let i = 0; i < n; i++) {
      this.means[this.next] = mean[i];
      this.stds[this.next] = std[i];
      this.classes[this.next] = predicted[i];
      this.next = (this.next + 1) % this.window;
      if (this.filled < this.window) this.filled += 1;
    }
  }

  /** Samples in the window now. */
  get count(): number {
    return this.filled;
  }

  /** PSI and JS scores against the served model's reference; empty without a reference or with too few samples. */
  driftScores(): DriftScore[] {
    const reference = this.model?.driftReference;
    if (reference === undefined || this.filled < this.minSamples) return [];
    return driftScores(reference, {
      summaries: { mean: this.means.subarray(0, this.filled), std: this.stds.subarray(0, this.filled) },
      predicted: this.classes.subarray(0, this.filled),
    });
  }

  /** Fraction of the window predicted as each class, by label; empty before the first sample. */
  classRatios(): Array<{ label: string; ratio: number }> {
    if (this.model === null || this.filled === 0) return [];
    const counts = new Array<number>(this.model.labels.length).fill(0);
    for (let i = 0; i < this.filled; i++) counts[this.classes[i]] += 1;
    return this.model.labels.map((label, k) => ({ label, ratio: counts[k] / this.filled }));
  }
}
