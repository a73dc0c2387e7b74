/**
 * Training-cost accounting (DESIGN.md, "The algorithm"): samples seen in training
 * passes, growth-evaluation passes included, by phase; FLOPs executed (dense) and
 * effective (live connections only); evaluation passes; wall seconds.
 *
 * Epochs-equivalent = sample-epochs / |all data|, so "15 epochs on 10x smaller new
 * data" counts as 1.5 epochs, as in the paper's Table 2.
 */

export interface PhaseCost {
  /** Samples through a forward and backward pass (training and growth evaluation). */
  sampleEpochs: number;
  /** FLOPs of those passes counting live connections only (what a sparse kernel would do). */
  flops: number;
  /** FLOPs of those passes as executed with dense kernels. */
  denseFlops: number;
  /** Samples through forward-only evaluation (validation checks). */
  evalSamples: number;
  /** FLOPs of those forward passes, live connections only. */
  evalFlops: number;
  /** Wall-clock seconds spent in the phase. */
  wallSeconds: number;
}

export interface CostSummary extends PhaseCost {
  /** sampleEpochs / |all data|. */
  epochs: number;
  /**
   * Training and evaluation together: a forward-only pass costs a third of a
   * training pass (TRAIN_FLOPS_FACTOR), so `sampleEpochs + evalSamples / 3`, in
   * samples and in epochs of all data, and FLOPs `flops + evalFlops`.
   */
  withEvaluation: { sampleEpochs: number; epochs: number; flops: number };
  /** Per phase (growth-new, growth-all, train, prune, ...). */
  phases: Record<string, PhaseCost>;
}

/** Backward FLOPs are about twice the forward FLOPs (input and weight gradients). */
export const TRAIN_FLOPS_FACTOR = 3;

export class CostLedger {
  private readonly phases = new Map<string, PhaseCost>();

  private phase(name: string): PhaseCost {
    let p = this.phases.get(name);
    if (!p) {
      p = { sampleEpochs: 0, flops: 0, denseFlops: 0, evalSamples: 0, evalFlops: 0, wallSeconds: 0 };
      this.phases.set(name, p);
    }
    return p;
  }

  /** Records `samples` through forward+backward with the given forward FLOPs per sample. */
  train(phase: string, samples: number, forwardFlops: { dense: number; sparse: number }): void {
    const p = this.phase(phase);
    p.sampleEpochs += samples;
    p.flops += samples * forwardFlops.sparse * TRAIN_FLOPS_FACTOR;
    p.denseFlops += samples * forwardFlops.dense * TRAIN_FLOPS_FACTOR;
  }

  /** Records `samples` through a forward pass only (validation) with the given forward FLOPs per sample. */
  evaluate(phase: string, samples: number, forwardFlops: { dense: number; sparse: number }): void {
    const p = this.phase(phase);
    p.evalSamples += samples;
    p.evalFlops += samples * forwardFlops.sparse;
  }

  /** Runs `fn`, adding its wall time to `phase`. */
  timed<T>(phase: string, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.phase(phase).wallSeconds += (performance.now() - t0) / 1000;
    }
  }

  summary(allDataSize: number): CostSummary {
    const total: PhaseCost = { sampleEpochs: 0, flops: 0, denseFlops: 0, evalSamples: 0, evalFlops: 0, wallSeconds: 0 };
    const phases: Record<string, PhaseCost> = {};
    for (const [name, p] of this.phases) {
      phases[name] = { ...p };
      total.sampleEpochs += p.sampleEpochs;
      total.flops += p.flops;
      total.denseFlops += p.denseFlops;
      total.evalSamples += p.evalSamples;
      total.evalFlops += p.evalFlops;
      total.wallSeconds += p.wallSeconds;
    }
    const per = (samples: number): number => (allDataSize > 0 ? samples / allDataSize : 0);
    const withEval = total.sampleEpochs + total.evalSamples / TRAIN_FLOPS_FACTOR;
    return {
      ...total, epochs: per(total.sampleEpochs), phases,
      withEvaluation: { sampleEpochs: withEval, epochs: per(withEval), flops: total.flops + total.evalFlops },
    };
  }
}
