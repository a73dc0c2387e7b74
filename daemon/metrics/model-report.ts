/**
 * A model version's size and quality as gauges (`bonsai_model_info`,
 * `bonsai_model_density_ratio`, `bonsai_model_parameters`, `bonsai_eval_error_ratio`, `bonsai_eval_accuracy_ratio`),
 * labelled by its role: `champion`, `candidate` or `serving`. The updater,
 * the registry and serving plugins and the serving-only follower all report
 * through it, so the serving-only process needs nothing of the trainer.
 */
import type { Manifest } from '../registry/index.ts';
import type { BonsaiMetrics } from './registry.ts';

/** Publishes a model's size and quality under `role` (`champion`, `candidate`, `serving`). */
export function reportModel(metrics: BonsaiMetrics, role: string, manifest: Pick<Manifest, 'version' | 'parameters' | 'metrics'>): void {
  metrics.setModelInfo(role, manifest.version);
  let live = 0;
  let total = 0;
  for (const [layer, p] of Object.entries(manifest.parameters)) {
    live += p.live;
    total += p.total;
    metrics.modelDensity.set({ role, layer }, p.total === 0 ? 1 : p.live / p.total);
  }
  metrics.modelParameters.set({ role, kind: 'live' }, live);
  metrics.modelParameters.set({ role, kind: 'dense' }, total);
  const m = manifest.metrics;
  // A classifier's mean error over its classes, and the error of always answering the most frequent
  // class, beside its error: on imbalanced data the first can be far above it, and it near the second.
  const datasets = [['validation', 'validationError'], ['test', 'testError'], ['validation_balanced', 'balancedValidationError'], ['validation_majority', 'majorityValidationError']] as const;
  for (const [dataset, key] of datasets) {
    if (typeof m[key] !== 'number') continue;
    metrics.evalError.set({ role, dataset }, m[key]);
    // A WER can exceed 1 (insertions); accuracy stays a ratio.
    metrics.evalAccuracy.set({ role, dataset }, Math.max(0, 1 - m[key]));
  }
}
