/**
 * Prequential ("test-then-train") accuracy over a sliding window: each new
 * labelled sample is predicted by the live model *before* it joins the training
 * pool, and the last `size` outcomes are averaged (Gama, Sebastiao, Rodrigues,
 * "On evaluating stream learning algorithms", Machine Learning 90, 2013, sec. 3).
 */
import { BonsaiError } from '../../core/errors.ts';

/** Accuracy of the most recent `size` test-then-train predictions. */
export class PrequentialWindow {
  private readonly outcomes: Uint8Array;
  private next = 0;
  private filled = 0;
  private correctInWindow = 0;
  private seenTotal = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new BonsaiError('BONSAI_DAEMON_BAD_WINDOW', `window size must be a positive integer, got ${size}`, { size });
    }
    this.outcomes = new Uint8Array(size);
  }

  /** Records whether the live model's prediction of one new sample was right. */
  record(correct: boolean): void {
    const v = correct ? 1 : 0;
    if (this.filled === this.size) this.correctInWindow -= this.outcomes[this.next];
    else this.filled += 1;
    this.outcomes[this.next] = v;
    this.correctInWindow += v;
    this.next = (this.next + 1) % this.size;
    this.seenTotal += 1;
  }

  /** Records `predicted === actual` for each pair. */
  recordBatch(predicted: ArrayLike<number>, actual: ArrayLike<number>): void {
    if (predicted.length !== actual.length) {
      throw new BonsaiError('BONSAI_DAEMON_BAD_WINDOW', `predicted has ${predicted.length} entries, actual ${actual.length}`, { predicted: predicted.length, actual: actual.length });
    }
    for (let i = 0; i < predicted.length; i++) this.record(predicted[i] === actual[i]);
  }

  /** Fraction correct in the window, or null before the first record. */
  accuracy(): number | null {
    return this.filled === 0 ? null : this.correctInWindow / this.filled;
  }

  /** Outcomes in the window now (at most `size`). */
  get count(): number {
    return this.filled;
  }

  /** Outcomes recorded since construction. */
  get total(): number {
    return this.seenTotal;
  }

  /** Forgets the window (e.g. after a swap, to score only the new model). */
  clear(): void {
    this.outcomes.fill(0);
    this.next = 0;
    this.filled = 0;
    this.correctInWindow = 0;
  }
}
