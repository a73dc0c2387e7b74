/** Prometheus durations and the Grafana variables of the dashboard's queries. */
import { BonsaiError } from '../core/errors.ts';

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds of a Prometheus duration: `90s`, `15m`, `24h`, `7d`, `1h30m`. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)];
  const consumed = parts.map((p) => p[0]).join('');
  const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * UNITS[p[2]], 0);
  if (parts.length === 0 || consumed !== trimmed || !(seconds > 0)) {
    throw new BonsaiError('BONSAI_DEPLOY_BAD_DURATION', `"${text}" is not a duration such as 30s, 15m, 24h or 7d`, { text });
  }
  return seconds;
}

/** A duration PromQL accepts, in whole seconds (at least 1s). */
export function promDuration(seconds: number): string {
  return `${Math.max(1, Math.round(seconds))}s`;
}

/** Values of the dashboard's variables. */
export interface QueryVariables {
  /** Regex of the `job` label (the dashboard's "All" is `.+`). */
  job: string;
  /** Regex of the `instance` label. */
  instance: string;
  /** `$__rate_interval` in seconds. */
  rateIntervalSeconds: number;
}

/** Replaces `$__rate_interval`, `$job` and `$instance` (also `${job}` forms). */
export function expandQuery(expr: string, vars: QueryVariables): string {
  return expr
    .replaceAll('$__rate_interval', promDuration(vars.rateIntervalSeconds))
    .replace(/\$\{?job\}?/g, vars.job.replaceAll('"', '\\"'))
    .replace(/\$\{?instance\}?/g, vars.instance.replaceAll('"', '\\"'));
}
