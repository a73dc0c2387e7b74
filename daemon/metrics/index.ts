/** The daemon's Prometheus metrics, drift statistics, prequential accuracy and the gauges of a model's size and quality. */
export { BonsaiMetrics, createMetrics, LABEL_VALUES, PREDICT_BUCKETS, UPDATE_BUCKETS } from './registry.ts';
export type { MetricsArgs, MetricSources, TfMemoryInfo } from './registry.ts';
export { PrequentialWindow } from './prequential-window.ts';
export { ServingMonitor } from './monitor.ts';
export type { MonitoredModel, ServingMonitorArgs } from './monitor.ts';
export {
  PSI_EPSILON,
  binCounts,
  binIndex,
  buildDriftReference,
  classCounts,
  driftScores,
  jensenShannonDivergence,
  populationStabilityIndex,
  quantileCuts,
  sampleSummaries,
  toProbabilities,
} from './drift.ts';
export type { BinnedDistribution, DriftReference, DriftScore, InputSummary } from './drift.ts';
export { swapObserver } from './swaps.ts';
export { reportModel } from './model-report.ts';
