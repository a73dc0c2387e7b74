/**
 * Builds deploy/grafana/bonsai.json from the panel list (panels.ts), so the
 * dashboard and `bonsai report` never disagree. Regenerate the file with
 * `npx tsx deploy/generate.ts`; a test fails when it is stale.
 *
 * The dashboard takes its data source from a variable (`$datasource`), so it
 * imports as it is through the UI, the HTTP API or file provisioning.
 */
import { ANNOTATIONS, ROWS, type PanelDef } from './panels.ts';

/** Grafana JSON (a plain object tree). */
export type GrafanaJson = { [key: string]: unknown };

/** The dashboard's uid: its URL is /d/bonsai. */
export const DASHBOARD_UID = 'bonsai';

/** Grafana's dashboard schema version this file was written for (Grafana 10.x). */
export const SCHEMA_VERSION = 39;

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };
const PANEL_HEIGHT = 8;

function fieldDefaults(panel: PanelDef): GrafanaJson {
  const thresholds = panel.thresholds ?? [];
  const colors = ['orange', 'red', 'dark-red'];
  const defaults: GrafanaJson = {
    unit: panel.unit,
    thresholds: {
      mode: 'absolute',
      steps: [{ color: 'green', value: null }, ...thresholds.map((value, i) => ({ color: colors[Math.min(i, colors.length - 1)], value }))],
    },
    color: { mode: panel.kind === 'bars' ? 'thresholds' : 'palette-classic' },
  };
  if (panel.unit === 'percentunit') Object.assign(defaults, { min: 0, max: 1 });
  if (panel.kind === 'timeseries' || panel.kind === 'bars-over-time') {
    const bars = panel.kind === 'bars-over-time';
    defaults.custom = {
      drawStyle: bars ? 'bars' : 'line',
      lineWidth: 1,
      fillOpacity: bars ? 80 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: bars ? 'normal' : 'none', group: 'A' },
      thresholdsStyle: { mode: thresholds.length > 0 ? 'line' : 'off' },
    };
  }
  return defaults;
}

function panelOptions(panel: PanelDef): GrafanaJson {
  const reduceOptions = { calcs: ['lastNotNull'], fields: '', values: false };
  switch (panel.kind) {
    case 'bars':
      return { orientation: 'horizontal', displayMode: 'gradient', showUnfilled: true, reduceOptions };
    case 'stat':
      return { textMode: panel.statText ?? 'value_and_name', colorMode: 'none', graphMode: 'none', justifyMode: 'auto', orientation: 'horizontal', reduceOptions };
    default:
      return {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
        tooltip: { mode: 'multi', sort: 'desc' },
      };
  }
}

const PANEL_TYPE: Record<PanelDef['kind'], string> = {
  timeseries: 'timeseries',
  'bars-over-time': 'timeseries',
  bars: 'bargauge',
  stat: 'stat',
};

function panelJson(panel: PanelDef, x: number, y: number): GrafanaJson {
  const instant = panel.kind === 'bars' || panel.kind === 'stat';
  return {
    id: panel.id,
    type: PANEL_TYPE[panel.kind],
    title: panel.title,
    description: panel.description,
    datasource: DATASOURCE,
    gridPos: { x, y, w: panel.width, h: PANEL_HEIGHT },
    fieldConfig: { defaults: fieldDefaults(panel), overrides: [] },
    options: panelOptions(panel),
    targets: panel.targets.map((target) => ({
      datasource: DATASOURCE,
      refId: target.refId,
      expr: target.expr,
      legendFormat: target.legend,
      range: !instant,
      instant,
    })),
  };
}

function variable(name: string, label: string, query: string): GrafanaJson {
  return {
    name,
    label,
    type: 'query',
    datasource: DATASOURCE,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    includeAll: true,
    allValue: '.+',
    multi: true,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
    hide: 0,
  };
}

/** The Grafana variable queries (`label_values(...)`) of the dashboard. */
export const VARIABLE_QUERIES: Readonly<Record<string, string>> = {
  job: 'label_values(bonsai_build_info, job)',
  instance: 'label_values(bonsai_build_info{job=~"$job"}, instance)',
};

/** The whole dashboard. */
export function grafanaDashboard(): GrafanaJson {
  const panels: GrafanaJson[] = [];
  let y = 0;
  let rowId = 100;
  for (const row of ROWS) {
    panels.push({ id: rowId++, type: 'row', title: row.title, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    for (const panel of row.panels) {
      if (x + panel.width > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(panelJson(panel, x, y));
      x += panel.width;
    }
    y += PANEL_HEIGHT;
  }
  return {
    title: 'bonsai',
    uid: DASHBOARD_UID,
    description: 'Continual learning with grow-and-prune: model quality, size, training cost, drift, ingestion and serving. Metrics: docs/metrics.md.',
    tags: ['bonsai', 'machine-learning'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: '30s',
    time: { from: 'now-24h', to: 'now' },
    timezone: 'browser',
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        ...ANNOTATIONS.map((a) => ({
          datasource: DATASOURCE,
          enable: true,
          hide: false,
          iconColor: a.color,
          name: a.name,
          expr: a.expr,
          step: '1m',
          titleFormat: a.name,
          useValueForTime: false,
        })),
      ],
    },
    templating: {
      list: [
        { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', includeAll: false, multi: false },
        variable('job', 'Job', VARIABLE_QUERIES.job),
        variable('instance', 'Instance', VARIABLE_QUERIES.instance),
      ],
    },
    panels,
  };
}

/** The dashboard as the file holds it: two-space JSON and a final newline. */
export function grafanaDashboardText(): string {
  return `${JSON.stringify(grafanaDashboard(), null, 2)}\n`;
}
