/**
 * Report data from Prometheus' HTTP API: every dashboard panel's queries over
 * a time range (`/api/v1/query_range`), or at its end for bars and stats
 * (`/api/v1/query`), with the variables expanded as Grafana would.
 */
import { BonsaiError } from '../core/errors.ts';
import { allPanels, formatLegend, type PanelDef } from './panels.ts';
import { expandQuery, promDuration, type QueryVariables } from './query.ts';
import type { PanelData, PanelSeries, ReportData } from './types.ts';

/** Options of `reportFromPrometheus`. */
export interface PrometheusReportArgs {
  /** Base URL, e.g. `http://127.0.0.1:9090` (a path prefix is kept). */
  url: string;
  /** Length of the time range, in seconds. */
  rangeSeconds: number;
  /** End of the range; default now. */
  end?: Date;
  /** Resolution in seconds; default range / 200, at least 15 s. */
  stepSeconds?: number;
  /** `$__rate_interval` in seconds; default max(step, 60 s). */
  rateIntervalSeconds?: number;
  /** Regex of the job label; default `.+`. */
  job?: string;
  /** Regex of the instance label; default `.+`. */
  instance?: string;
  /** Per-request timeout; default 30 s. */
  timeoutMs?: number;
}

interface ApiAnswer {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: {
    resultType: string;
    result: Array<{ metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }>;
  };
}

async function call(base: string, path: string, params: Record<string, string>, timeoutMs: number): Promise<ApiAnswer> {
  const url = new URL(`${base.replace(/\/+$/, '')}${path}`);
  const body = new URLSearchParams(params);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new BonsaiError('BONSAI_DEPLOY_PROMETHEUS_UNREACHABLE', `cannot reach Prometheus at ${base}: ${(cause as Error).message}`, { url: url.href }, { cause });
  }
  const text = await res.text();
  let answer: ApiAnswer;
  try {
    answer = JSON.parse(text) as ApiAnswer;
  } catch (cause) {
    throw new BonsaiError('BONSAI_DEPLOY_PROMETHEUS_UNREACHABLE', `${url.href} answered HTTP ${res.status} with something other than the Prometheus API's JSON: ${text.slice(0, 200)}`,
      { url: url.href, status: res.status }, { cause });
  }
  return answer;
}

function seriesName(legend: string, labels: Record<string, string>): string {
  const name = formatLegend(legend, labels).trim();
  if (name !== '') return name;
  const { __name__: metric, ...rest } = labels;
  return `${metric ?? ''}{${Object.entries(rest).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** Every dashboard panel filled from Prometheus. Throws only when Prometheus cannot be reached. */
export async function reportFromPrometheus(args: PrometheusReportArgs): Promise<ReportData> {
  const end = (args.end ?? new Date()).getTime() / 1000;
  const start = end - args.rangeSeconds;
  const step = args.stepSeconds ?? Math.max(15, Math.round(args.rangeSeconds / 200));
  const vars: QueryVariables = {
    job: args.job ?? '.+',
    instance: args.instance ?? '.+',
    rateIntervalSeconds: args.rateIntervalSeconds ?? Math.max(step, 60),
  };
  const timeoutMs = args.timeoutMs ?? 30_000;
  const warnings: string[] = [];

  async function panelData(panel: PanelDef): Promise<PanelData> {
    const instant = panel.kind === 'bars' || panel.kind === 'stat';
    const series: PanelSeries[] = [];
    const problems: string[] = [];
    for (const target of panel.targets) {
      const query = expandQuery(target.expr, vars);
      const answer = instant
        ? await call(args.url, '/api/v1/query', { query, time: String(end) }, timeoutMs)
        : await call(args.url, '/api/v1/query_range', { query, start: String(start), end: String(end), step: promDuration(step) }, timeoutMs);
      if (answer.status !== 'success' || answer.data === undefined) {
        problems.push(`${target.refId}: ${answer.errorType ?? 'error'}: ${answer.error ?? 'no data field'}`);
        continue;
      }
      for (const r of answer.data.result) {
        const raw = r.values ?? (r.value ? [r.value] : []);
        const points = raw.map(([t, v]) => ({ x: t * 1000, y: Number(v) })).filter((p) => Number.isFinite(p.y));
        if (points.length > 0) series.push({ name: seriesName(target.legend, r.metric), points });
      }
    }
    for (const p of problems) warnings.push(`panel "${panel.title}" ${p}`);
    const note = problems.length > 0 ? `query failed: ${problems.join('; ')}` : series.length === 0 ? 'no data in this range' : undefined;
    return { panel, xAxis: 'time', series, note };
  }

  const panels: PanelData[] = [];
  for (const panel of allPanels()) panels.push(await panelData(panel));
  const fmt = (t: number): string => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    title: 'bonsai',
    subtitle: [
      `Prometheus ${args.url}, job=~"${vars.job}", instance=~"${vars.instance}"`,
      `${fmt(start)} to ${fmt(end)}, step ${promDuration(step)}, rate interval ${promDuration(vars.rateIntervalSeconds)}`,
    ],
    panels,
    warnings,
  };
}
