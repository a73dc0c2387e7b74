/** The summary of a closed-loop load run, shared by the in-process and the child-process clients. */

/** Requests answered, failed, the rate and the latency percentiles (ms). */
export interface LoadSummary { requests: number; failed: number; perSecond: number; p50: number; p99: number }

function quantile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] * 100) / 100;
}

/** `ms`: latencies of the requests that succeeded; `failed` others; over `wallSeconds`. */
export function summarise(ms: number[], failed: number, wallSeconds: number): LoadSummary {
  const sorted = [...ms].sort((a, b) => a - b);
  return { requests: ms.length + failed, failed, perSecond: Math.round((ms.length + failed) / wallSeconds), p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}
