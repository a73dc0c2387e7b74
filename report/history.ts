/**
 * Report data from the model registry alone (`models/<N>/manifest.json` and
 * `models/history.jsonl`), for a machine without Prometheus: accuracy, error,
 * size, density, training cost and phase times per version, and the
 * registry's events over time. Panels of live signals (drift, ingestion,
 * serving) say that only Prometheus has them.
 */
import { join } from 'node:path';
import { BonsaiError } from '../core/errors.ts';
import { openRegistry, type HistoryEntry, type ModelVersion } from '../daemon/registry/index.ts';
import { allPanels, type HistorySource, type PanelDef } from './panels.ts';
import type { PanelData, PanelSeries, ReportData } from './types.ts';

type Versions = readonly ModelVersion[];

/** One series per metric key matching `pattern`, over versions. */
function metricSeries(versions: Versions, pattern: RegExp): PanelSeries[] {
  const byKey = new Map<string, PanelSeries>();
  for (const v of versions) {
    for (const [key, value] of Object.entries(v.manifest.metrics)) {
      if (!pattern.test(key)) continue;
      const s = byKey.get(key) ?? { name: key, points: [] };
      s.points.push({ x: v.version, y: value });
      byKey.set(key, s);
    }
  }
  return [...byKey.values()];
}

function perVersion(versions: Versions, name: string, value: (v: ModelVersion) => number | undefined): PanelSeries[] {
  const points = versions.flatMap((v) => {
    const y = value(v);
    return y === undefined || !Number.isFinite(y) ? [] : [{ x: v.version, y }];
  });
  return points.length === 0 ? [] : [{ name, points }];
}

function eventSeries(history: readonly HistoryEntry[], events: readonly string[]): PanelSeries[] {
  return events.flatMap((event) => {
    const points = history.filter((e) => e.event === event).map((e) => ({ x: Date.parse(e.time), y: 1 })).filter((p) => Number.isFinite(p.x));
    return points.length === 0 ? [] : [{ name: event, points }];
  });
}

interface Registry {
  versions: Versions;
  history: readonly HistoryEntry[];
  champion: ModelVersion | null;
}

function fromHistory(source: HistorySource, r: Registry): Omit<PanelData, 'panel'> {
  const { versions, history, champion } = r;
  const newest = versions[versions.length - 1];
  switch (source) {
    case 'accuracy':
      return { xAxis: 'version', series: metricSeries(versions, /accuracy/i) };
    case 'error':
      return { xAxis: 'version', series: metricSeries(versions, /error|wer/i) };
    case 'parameters': {
      const sum = (v: ModelVersion, k: 'live' | 'total'): number => Object.values(v.manifest.parameters).reduce((s, l) => s + l[k], 0);
      return { xAxis: 'version', series: [...perVersion(versions, 'live', (v) => sum(v, 'live')), ...perVersion(versions, 'dense', (v) => sum(v, 'total'))] };
    }
    case 'density': {
      const v = champion ?? newest;
      const series = Object.entries(v.manifest.parameters).map(([layer, p]) => ({ name: layer, points: [{ x: v.version, y: p.total === 0 ? 0 : p.live / p.total }] }));
      return { xAxis: 'version', series, note: `version ${v.version}${champion ? ' (champion)' : ' (newest; none promoted)'}` };
    }
    case 'champion': {
      const series: PanelSeries[] = [];
      if (champion) series.push({ name: `champion v${champion.version} since ${champion.manifest.stateChangedAt.slice(0, 16).replace('T', ' ')}`, points: [{ x: 0, y: 1 }] });
      if (newest && newest !== champion) series.push({ name: `newest v${newest.version} (${newest.manifest.state})`, points: [{ x: 0, y: 1 }] });
      series.push({ name: `${versions.length} versions kept`, points: [{ x: 0, y: versions.length }] });
      return { xAxis: 'version', series, statText: 'name' };
    }
    case 'champion-changes':
      return { xAxis: 'time', series: eventSeries(history, ['promote', 'rollback']), note: 'champion changes in the registry (each process swaps after them)' };
    case 'updates': {
      const states = [...new Set(versions.map((v) => v.manifest.state))];
      return {
        xAxis: 'version',
        series: states.map((state) => ({ name: state, points: versions.filter((v) => v.manifest.state === state).map((v) => ({ x: v.version, y: 1 })) })),
        note: 'one bar per version, by its state now',
      };
    }
    case 'sample-epochs':
      return {
        xAxis: 'version',
        series: perVersion(versions, 'sample-epochs', (v) => v.manifest.cost.sampleEpochs),
        note: `epochs-equivalent: ${versions.map((v) => `v${v.version} ${v.manifest.cost.epochs.toFixed(2)}`).join(', ')}`,
      };
    case 'flops':
      return { xAxis: 'version', series: perVersion(versions, 'FLOPs', (v) => v.manifest.cost.flops) };
    case 'phase-times': {
      const phases = [...new Set(versions.flatMap((v) => Object.keys(v.manifest.timings)))];
      const series = phases.flatMap((phase) => perVersion(versions, phase, (v) => v.manifest.timings[phase]));
      return { xAxis: 'version', series: series.length > 0 ? series : perVersion(versions, 'total', (v) => v.manifest.cost.wallSeconds) };
    }
    case 'samples-seen':
      return { xAxis: 'version', series: perVersion(versions, 'samples trained on', (v) => v.manifest.samplesSeen), note: 'samples each version was trained on (pending and store sizes: Prometheus only)' };
    case 'backend': {
      const series = versions.slice(-3).map((v) => ({ name: `v${v.version} trained on ${v.manifest.backend}`, points: [{ x: v.version, y: 1 }] }));
      return { xAxis: 'version', series, statText: 'name' };
    }
  }
}

/** Every dashboard panel filled from `<stateDir>/models`. Throws BONSAI_DEPLOY_NO_HISTORY when no version was published. */
export async function reportFromHistory(stateDir: string): Promise<ReportData> {
  const dir = join(stateDir, 'models');
  const registry = await openRegistry(dir, { readOnly: true });
  const versions = await registry.list();
  if (versions.length === 0) {
    throw new BonsaiError('BONSAI_DEPLOY_NO_HISTORY', `no model version in ${dir}: nothing to report until the first update has been published`, { dir });
  }
  const data: Registry = { versions, history: await registry.history(), champion: await registry.current() };
  const panels = allPanels().map((panel: PanelDef): PanelData => {
    if (panel.history === undefined) return { panel, xAxis: 'time', series: [], note: 'live metric: only in Prometheus (bonsai report --prometheus URL)' };
    const filled = fromHistory(panel.history, data);
    return { panel, ...filled, note: filled.note ?? (filled.series.length === 0 ? 'not recorded in the registry history' : undefined) };
  });
  const first = versions[0].manifest.createdAt;
  const last = versions[versions.length - 1].manifest.createdAt;
  return {
    title: 'bonsai',
    subtitle: [`registry ${dir}: versions ${versions[0].version} to ${versions[versions.length - 1].version}, champion ${data.champion ? `v${data.champion.version}` : 'none'}`, `published ${first} to ${last}`],
    panels,
    warnings: [],
  };
}
