/**
 * A classifier's validation error by class, beside the error of always answering the most
 * frequent class. On imbalanced data the overall error can look good while a class is never
 * recognised: 950 samples of one label and 50 of another give 5 % error to a model that
 * answers the first every time. The updater warns (`update.class_not_learned`) when a
 * candidate is no better than that, or when a class is wrong on at least half of its validation
 * samples (at least `MIN_CLASS_SAMPLES` of them).
 */

/**
 * Validation samples a class needs before its error can raise the warning. At 5 samples, a
 * class the model recognises 90 % of the time is wrong on at least half of them with
 * probability 0.9 % (binomial), so the warning rarely fires for a learned class; a class
 * recognised half the time fires it about half the time.
 */
export const MIN_CLASS_SAMPLES = 5;

/** The validation error of a candidate, class by class. */
export interface ClassBreakdown {
  /** Mean over the classes with validation samples of each class's error rate (1 - recall). */
  balancedError: number;
  /** The class with the most validation samples, and the error of always answering it. */
  majority: { label: string; error: number };
  /** The class with the highest error rate among those with validation samples. */
  worst: { label: string; error: number; samples: number };
  /** Classes with validation samples. */
  classes: number;
}

/** Per-class errors from per-sample 0/1 errors and the true classes; null without samples. */
export function classBreakdown(errors: ArrayLike<number>, truth: ArrayLike<number>, labels: readonly string[]): ClassBreakdown | null {
  const n = truth.length;
  if (n === 0) return null;
  const samples = new Float64Array(labels.length);
  const wrong = new Float64Array(labels.length);
  for (let i = 0; i < n; i++) {
    samples[truth[i]] += 1;
    wrong[truth[i]] += errors[i];
  }
  let majority = 0;
  let worst = -1;
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < labels.length; c++) {
    if (samples[c] > samples[majority]) majority = c;
    if (samples[c] === 0) continue;
    classes += 1;
    const rate = wrong[c] / samples[c];
    sum += rate;
    if (worst < 0 || rate > wrong[worst] / samples[worst]) worst = c;
  }
  return {
    balancedError: sum / classes,
    majority: { label: labels[majority], error: (n - samples[majority]) / n },
    worst: { label: labels[worst], error: wrong[worst] / samples[worst], samples: samples[worst] },
    classes,
  };
}

/**
 * Whether a candidate with `error` has not learned a class: `majority` when it is no better than
 * always answering the most frequent class (on data of more than one class), `class` when its
 * worst class (with at least `MIN_CLASS_SAMPLES` validation samples) is wrong half the time or
 * more; null otherwise.
 */
export function classNotLearned(error: number, breakdown: ClassBreakdown): 'majority' | 'class' | null {
  if (breakdown.classes > 1 && error >= breakdown.majority.error - 1e-12) return 'majority';
  if (breakdown.worst.samples >= MIN_CLASS_SAMPLES && breakdown.worst.error >= 0.5) return 'class';
  return null;
}
