/** `bonsai report` and the Grafana dashboard: one panel list, rendered from Prometheus or the registry history. */
export { ROWS, ANNOTATIONS, allPanels, formatLegend } from './panels.ts';
export type { HistorySource, PanelDef, PanelKind, PanelTarget, PanelUnit, RowDef } from './panels.ts';
export { DASHBOARD_UID, SCHEMA_VERSION, VARIABLE_QUERIES, grafanaDashboard, grafanaDashboardText } from './grafana.ts';
export type { GrafanaJson } from './grafana.ts';
export { expandQuery, parseDuration, promDuration } from './query.ts';
export type { QueryVariables } from './query.ts';
export { reportFromPrometheus } from './prometheus.ts';
export type { PrometheusReportArgs } from './prometheus.ts';
export { reportFromHistory } from './history.ts';
export { panelSpec, renderReportPng, renderReportSvg, reportSpec } from './render.ts';
export type { RenderOptions } from './render.ts';
export type { PanelData, PanelSeries, ReportData, SeriesPoint } from './types.ts';
