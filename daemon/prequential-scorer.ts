/**
 * Prequential ("test-then-train") scoring of arrivals: every labelled sample
 * that enters the store is first predicted by the live model, before any
 * update trains on it, and the outcome goes into the sliding window behind
 * `bonsai_prequential_accuracy_ratio` (Gama et al. 2013; daemon/metrics/prequential-window.ts).
 * This is how users see drift in accuracy terms.
 *
 * Arrivals are scored in small batches on the serving thread, with a lease on
 * the live model like any request. The updater calls `drain()` before it swaps
 * in a model trained on them, so no sample is scored by a model that learned it.
 * Samples that arrive while no model is served are not scored. A speech model
 * (daemon/speech.ts) scores a recording as right when its transcript equals the
 * reference (the sample's transcript, else its label read as words).
 */
import type { SampleStore } from '../pipelines/store/index.ts';
import type { PrequentialWindow } from './metrics/prequential-window.ts';
import type { ModelHolder } from './serving/holder.ts';
import { shapeSize, type LoadedModel } from './serving/types.ts';
import { labelTranscript } from './speech.ts';
import type { Log } from './logging.ts';

/** Options of `PrequentialScorer`. */
export interface PrequentialArgs {
  holder: ModelHolder;
  store: SampleStore;
  window: PrequentialWindow;
  log: Log;
  /** Most samples per prediction batch; default 64. */
  batchSize?: number;
}

/** Scores arrivals with the live model; see the file comment. */
export class PrequentialScorer {
  private readonly queue: string[] = [];
  private running: Promise<void> | null = null;
  private scoredCount = 0;
  private skippedCount = 0;

  constructor(private readonly args: PrequentialArgs) {}

  /** Queues newly stored samples (content-hash ids) for scoring. */
  add(ids: readonly string[]): void {
    if (ids.length === 0) return;
    this.queue.push(...ids);
    this.running ??= this.pump().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when every queued sample has been scored. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Samples scored and skipped (no model, no class label, or another shape). */
  get counts(): { scored: number; skipped: number } {
    return { scored: this.scoredCount, skipped: this.skippedCount };
  }

  private async pump(): Promise<void> {
    const batchSize = this.args.batchSize ?? 64;
    // Let the ingest commit that queued these finish its turn first.
    await new Promise((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const ids = this.queue.splice(0, batchSize);
      try {
        await this.scoreBatch(ids);
      } catch (err) {
        this.skippedCount += ids.length;
        this.args.log.warn('prequential.failed', { samples: ids.length, error: err });
      }
    }
  }

  private async scoreBatch(ids: string[]): Promise<void> {
    const lease = this.args.holder.tryAcquire();
    if (lease === null) {
      this.skippedCount += ids.length;
      return;
    }
    try {
      const model = lease.model;
      if (model.transcribe) {
        await this.scoreTranscripts(model, ids);
        return;
      }
      const size = shapeSize(model.inputShape);
      const labelIndex = new Map(model.labels.map((l, i) => [l, i]));
      const rows: Float32Array[] = [];
      const truth: number[] = [];
      for (const id of ids) {
        const sample = this.args.store.getSample(id);
        // A class the live model has never seen counts as a miss: that is the drift users must see.
        if (!sample || sample.label === null || sample.features.length !== size) {
          this.skippedCount += 1;
          continue;
        }
        rows.push(sample.features);
        truth.push(labelIndex.get(sample.label) ?? -1);
      }
      if (rows.length === 0) return;
      const batch = new Float32Array(rows.length * size);
      rows.forEach((r, i) => batch.set(r, i * size));
      const scores = await model.predict(batch, rows.length);
      const k = model.labels.length;
      const predicted = truth.map((_, i) => {
        let best = 0;
        for (let c = 1; c < k; c++) if (scores[i * k + c] > scores[i * k + best]) best = c;
        return best;
      });
      this.args.window.recordBatch(predicted, truth);
      this.scoredCount += rows.length;
    } finally {
      lease.release();
    }
  }

  /** Speech: transcribes each recording and records whether it equals the reference transcript. */
  private async scoreTranscripts(model: LoadedModel, ids: string[]): Promise<void> {
    const width = model.inputShape[model.inputShape.length - 1];
    const utterances: Float32Array[] = [];
    const references: string[] = [];
    for (const id of ids) {
      const sample = this.args.store.getSample(id);
      const reference = sample ? sample.transcript ?? (sample.label === null ? null : labelTranscript(sample.label)) : null;
      if (!sample || reference === null || sample.shape.length !== 2 || sample.shape[1] !== width || sample.features.length === 0) {
        this.skippedCount += 1;
        continue;
      }
      utterances.push(sample.features);
      references.push(reference);
    }
    if (utterances.length === 0) return;
    const hypotheses = await (model.transcribe as NonNullable<LoadedModel['transcribe']>)(utterances);
    hypotheses.forEach((h, i) => this.args.window.record(h === references[i]));
    this.scoredCount += utterances.length;
  }
}
