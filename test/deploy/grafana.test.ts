/**
 * deploy/grafana/bonsai.json: generated from report/panels.ts, laid out
 * on Grafana's grid without overlaps, and using exactly bonsai's metric names
 * (every one of them); the alert rules use only metrics that exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createMetrics } from '../../daemon/metrics/index.ts';
import { grafanaDashboardText } from '../../report/grafana.ts';
import { allPanels, formatLegend } from '../../report/panels.ts';

const DASHBOARD = new URL('../../deploy/grafana/bonsai.json', import.meta.url);
const RULES = new URL('../../deploy/prometheus/rules.yml', import.meta.url);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; legendFormat: string; datasource: { uid: string } }>;
}

function dashboard(): { panels: Panel[]; annotations: { list: Array<{ expr?: string }> }; uid: string; templating: { list: Array<{ name: string }> } } {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8'));
}

/** Names of the registry's series: metric names, plus _bucket/_sum/_count of histograms. */
async function seriesNames(): Promise<Set<string>> {
  const metrics = createMetrics({ version: 'test' });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
  }
  return names;
}

/** Metric names in a PromQL expression: bonsai_/process_/nodejs_ words and any name before `{`. */
function metricNames(expr: string): string[] {
  const found = new Set<string>();
  for (const m of expr.matchAll(/\b((?:bonsai|process|nodejs)_[a-z0-9_]+)/g)) found.add(m[1]);
  for (const m of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) found.add(m[1]);
  return [...found];
}

test('bonsai.json is the dashboard generated from the panel list (regenerate: npx tsx deploy/generate.ts)', () => {
  assert.equal(readFileSync(DASHBOARD, 'utf8'), grafanaDashboardText());
});

test('the dashboard queries only metrics the registry exports, and every bonsai metric', async () => {
  const known = await seriesNames();
  const d = dashboard();
  const exprs = [...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...d.annotations.list.flatMap((a) => (a.expr === undefined ? [] : [a.expr]))];
  const used = new Set(exprs.flatMap(metricNames));
  assert.deepEqual([...used].filter((n) => !known.has(n)), [], 'unknown metric names');
  const bonsai = [...known].filter((n) => n.startsWith('bonsai_') && !/_(bucket|sum|count)$/.test(n));
  const covered = new Set([...used].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
  assert.deepEqual(bonsai.filter((n) => !covered.has(n)), [], 'metrics without a panel');
  assert.ok(bonsai.length >= 21);
});

test('the alert rules use only metrics the registry exports', async () => {
  const known = await seriesNames();
  known.add('up');
  const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
  for (const rule of rules) {
    const names = metricNames(rule.expr);
    assert.ok(names.length > 0, rule.alert);
    assert.deepEqual(names.filter((n) => !known.has(n)), [], `${rule.alert}: unknown metric names`);
  }
});

test('panels: unique ids and refIds, the datasource variable, a 24-column grid without overlaps', () => {
  const d = dashboard();
  assert.equal(d.uid, 'bonsai');
  assert.deepEqual(d.templating.list.map((v) => v.name), ['datasource', 'job', 'instance']);
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const p of d.panels) {
    const { x, y, w, h } = p.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `panel ${p.id} ${p.title} leaves the grid: ${JSON.stringify(p.gridPos)}`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `panel ${p.id} ${p.title} overlaps another at ${i},${j}`);
        cells.add(`${i},${j}`);
      }
    }
    if (p.type === 'row') continue;
    assert.equal(p.datasource?.uid, '${datasource}', `panel ${p.id}`);
    const refIds = (p.targets ?? []).map((t) => t.refId);
    assert.ok(refIds.length > 0, `panel ${p.id} has no query`);
    assert.equal(new Set(refIds).size, refIds.length, `panel ${p.id} repeats a refId`);
    for (const t of p.targets ?? []) assert.match(t.expr, /job=~"\$job"/, `panel ${p.id} ${t.refId} ignores the job variable`);
  }
  assert.equal(d.panels.filter((p) => p.type !== 'row').length, allPanels().length);
});

test('formatLegend fills Grafana {{label}} placeholders and blanks missing labels', () => {
  assert.equal(formatLegend('v{{version}} {{ dataset }}', { version: '7', dataset: 'test' }), 'v7 test');
  assert.equal(formatLegend('{{role}}:{{missing}}', { role: 'serving' }), 'serving:');
});
