/** The data of a report page: each dashboard panel with the series to draw. */
import type { PanelDef } from './panels.ts';

/** One point: x is a time (ms since the epoch), a model version, or unused (bars, stat). */
export interface SeriesPoint {
  x: number;
  y: number;
}

/** One named series of a panel. */
export interface PanelSeries {
  name: string;
  points: SeriesPoint[];
}

/** A panel and what to draw in it. */
export interface PanelData {
  panel: PanelDef;
  /** What x means: time (Prometheus, history events) or model version (registry history). */
  xAxis: 'time' | 'version';
  series: PanelSeries[];
  /** Shown under the title: why a panel is empty, what the source could not give. */
  note?: string;
  /** Overrides the panel's statText (history stats show names only). */
  statText?: PanelDef['statText'];
}

/** A whole report page. */
export interface ReportData {
  title: string;
  /** Lines under the title: source, time range, when it was made. */
  subtitle: string[];
  panels: PanelData[];
  /** Problems that did not stop the report (a query Prometheus refused). */
  warnings: string[];
}
