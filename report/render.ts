/**
 * Draws a report page: one vega-lite view per panel, concatenated in a grid,
 * compiled and rendered to SVG by vega in Node (no browser, no canvas), then
 * rasterised to PNG by sharp.
 */
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { BonsaiError } from '../core/errors.ts';
import type { PanelUnit } from './panels.ts';
import type { PanelData, ReportData } from './types.ts';

/** Options of the page layout. */
export interface RenderOptions {
  /** Panels per row; default 2. */
  columns?: number;
  /** Plot width of one panel in CSS pixels; default 480. */
  panelWidth?: number;
  /** Plot height of one panel; default 160. */
  panelHeight?: number;
  /** PNG pixels per CSS pixel; default 1.5. */
  scale?: number;
}

type Spec = Record<string, unknown>;

const AXIS: Record<PanelUnit, { format?: string; title: string | null }> = {
  percentunit: { format: '.1~%', title: null },
  short: { format: '~s', title: null },
  bytes: { format: '~s', title: 'bytes' },
  s: { title: 'seconds' },
  reqps: { title: 'per second' },
  none: { title: null },
};

function formatValue(value: number, unit: PanelUnit): string {
  if (unit === 'percentunit') return `${(value * 100).toFixed(1)} %`;
  if (Number.isInteger(value)) return String(value);
  return value.toPrecision(4);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function rows(d: PanelData): Array<{ x: number; y: number; series: string }> {
  return d.series.flatMap((s) => s.points.map((p) => ({ x: p.x, y: p.y, series: s.name })));
}

function message(text: string, width: number, height: number): Spec {
  return {
    width,
    height,
    data: { values: [{ text }] },
    mark: { type: 'text', fontSize: 12, color: '#888', limit: width - 10 },
    encoding: { text: { field: 'text', type: 'nominal' } },
  };
}

/** One panel's view. */
export function panelSpec(d: PanelData, width: number, height: number): Spec {
  const { panel } = d;
  const title = { text: panel.title, subtitle: truncate(d.note ?? panel.description, 95), anchor: 'start', fontSize: 13, subtitleFontSize: 10, subtitleColor: '#666' };
  const values = rows(d);
  if (values.length === 0) return { title, ...message(d.note ?? 'no data', width, height) };
  // SI prefixes for large counts only: 0.25 reads better than 250m.
  const large = values.some((v) => Math.abs(v.y) >= 1000);
  const axis = panel.unit === 'short' && !large ? { title: null } : AXIS[panel.unit];
  const x = d.xAxis === 'time'
    ? { field: 'x', type: 'temporal', title: null, scale: { type: 'utc' }, axis: { labelOverlap: true } }
    : { field: 'x', type: 'ordinal', title: 'model version', axis: { labelAngle: 0 } };
  const y = { field: 'y', type: 'quantitative', title: axis.title, axis: axis.format ? { format: axis.format } : {} };
  const color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 3, labelLimit: 180, symbolLimit: 12 } };

  switch (panel.kind) {
    case 'stat': {
      const text = d.series.map((s, i) => {
        const last = s.points[s.points.length - 1].y;
        const mode = d.statText ?? panel.statText ?? 'name_and_value';
        const shown = mode === 'name' ? s.name : mode === 'value' ? formatValue(last, panel.unit) : `${s.name}: ${formatValue(last, panel.unit)}`;
        return { i, text: truncate(shown, 70) };
      });
      return {
        title,
        width,
        height,
        data: { values: text },
        mark: { type: 'text', align: 'left', fontSize: 13, x: 8 },
        encoding: { y: { field: 'i', type: 'ordinal', axis: null }, text: { field: 'text', type: 'nominal' } },
      };
    }
    case 'bars': {
      const latest = d.series.map((s) => ({ series: s.name, y: s.points[s.points.length - 1].y }));
      return {
        title,
        width,
        height,
        data: { values: latest },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'series', type: 'nominal', title: null, sort: null },
          x: { field: 'y', type: 'quantitative', title: axis.title, axis: axis.format ? { format: axis.format } : {}, ...(panel.unit === 'percentunit' ? { scale: { domain: [0, 1] } } : {}) },
          color: { value: '#4c78a8' },
        },
      };
    }
    default: {
      const main: Spec = panel.kind === 'bars-over-time'
        ? { mark: { type: 'bar' }, encoding: { x, y: { ...y, aggregate: 'sum', stack: 'zero' }, color } }
        : { mark: { type: 'line', point: d.xAxis === 'version', interpolate: 'linear' }, encoding: { x, y: { ...y, scale: { zero: false } }, color } };
      const thresholds = panel.thresholds ?? [];
      if (thresholds.length === 0) return { title, width, height, data: { values }, ...main };
      return {
        title,
        width,
        height,
        layer: [
          { data: { values }, ...main },
          { data: { values: thresholds.map((t) => ({ t })) }, mark: { type: 'rule', strokeDash: [4, 3], color: '#d62728' }, encoding: { y: { field: 't', type: 'quantitative' } } },
        ],
      };
    }
  }
}

/** The vega-lite spec of the whole page. */
export function reportSpec(data: ReportData, options: RenderOptions = {}): Spec {
  const width = options.panelWidth ?? 480;
  const height = options.panelHeight ?? 160;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: data.title, subtitle: data.subtitle, anchor: 'start', fontSize: 20, subtitleFontSize: 12 },
    background: 'white',
    padding: 16,
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: '#ddd' }, concat: { spacing: 28 } },
    columns: options.columns ?? 2,
    concat: data.panels.map((d) => panelSpec(d, width, height)),
    resolve: { scale: { color: 'independent', x: 'independent', y: 'independent' }, legend: { color: 'independent' } },
  };
}

/** The page as SVG text. */
export async function renderReportSvg(data: ReportData, options: RenderOptions = {}): Promise<string> {
  let view: vega.View | undefined;
  try {
    const compiled = vl.compile(reportSpec(data, options) as unknown as vl.TopLevelSpec).spec;
    view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    return await view.toSVG();
  } catch (cause) {
    throw new BonsaiError('BONSAI_DEPLOY_REPORT_RENDER', `drawing the report failed: ${(cause as Error).message}`, { panels: data.panels.length }, { cause });
  } finally {
    view?.finalize();
  }
}

/** The page as PNG bytes. */
export async function renderReportPng(data: ReportData, options: RenderOptions = {}): Promise<Buffer> {
  const svg = await renderReportSvg(data, options);
  try {
    return await sharp(Buffer.from(svg), { density: 72 * (options.scale ?? 1.5) }).png().toBuffer();
  } catch (cause) {
    throw new BonsaiError('BONSAI_DEPLOY_REPORT_RENDER', `converting the report's SVG to PNG failed: ${(cause as Error).message}`, { svgBytes: svg.length }, { cause });
  }
}
