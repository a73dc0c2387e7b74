/**
 * A real Prometheus scrapes a running daemon every second while it learns its
 * first model and serves, and evaluates deploy/prometheus/rules.yml; then
 * every query of the Grafana dashboard must return data, every variable query
 * values, every alert expression must parse and evaluate without error, and
 * `bonsai report` must draw every panel from that Prometheus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { renderReportPng, reportFromPrometheus } from '../../report/index.ts';
import { startDaemonTarget, type MetricsTarget } from './metrics-target.ts';
import { prometheusMissing, startPrometheus, type PrometheusServer } from './prometheus-server.ts';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));
const DASHBOARD = new URL('../../deploy/grafana/bonsai.json', import.meta.url);

interface Dashboard {
  panels: Array<{ id: number; title: string; targets?: Array<{ refId: string; expr: string }> }>;
  annotations: { list: Array<{ name: string; expr?: string }> };
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
}

/** Grafana's variables as the test sets them: every job and instance, rates over 5 scrapes. */
function expand(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5s').replaceAll('$job', '.+').replaceAll('$instance', '.+');
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}

test('Prometheus scraping a daemon through an update: every dashboard query returns data, every alert expression evaluates, bonsai report draws every panel', { skip: prometheusMissing(['prometheus']), timeout: 120_000 }, async () => {
  const target: MetricsTarget = await startDaemonTarget();
  let prometheus: PrometheusServer | undefined;
  let traffic = true;
  let load: Promise<void> = Promise.resolve();
  try {
    // Prometheus starts while the daemon runs its first update.
    const ready = target.ready();
    ready.catch(() => undefined);
    const server = await startPrometheus({ targets: [target.address], ruleFiles: [RULES] });
    prometheus = server;
    await ready;
    load = (async () => {
      while (traffic) {
        await target.exercise();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    // Drift needs 100 served samples, prequential accuracy a scored new sample, rates 2 scrapes in 5 s.
    await server.waitFor('count_over_time(bonsai_drift_score{method="psi",scope="prediction"}[10s])', (n) => n >= 3, 30_000);
    await server.waitFor('count_over_time(bonsai_prequential_accuracy_ratio[10s]) and bonsai_prequential_accuracy_ratio >= 0', (n) => n >= 3, 30_000);

    const failures: string[] = [];
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queries = [
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, needsData: true }))),
      // Annotations mark events (a failed swap), so they need to parse, not to find one.
      ...dashboard.annotations.list.filter((a) => a.expr !== undefined).map((a) => ({ where: `annotation "${a.name}"`, expr: a.expr ?? '', needsData: false })),
    ];
    assert.ok(queries.length >= 25, `the dashboard has ${queries.length} queries`);
    for (const { where, expr, needsData } of queries) {
      const answer = await server.query(expand(expr));
      const result = answer.data?.result;
      if (answer.status !== 'success') failures.push(`${where}: ${answer.errorType}: ${answer.error}\n  ${expr}`);
      else if (needsData && (!Array.isArray(result) || result.length === 0)) failures.push(`${where}: no data\n  ${expr}`);
    }

    // label_values(METRIC, LABEL) is Grafana's; Prometheus answers it as /api/v1/series.
    const variables = dashboard.templating.list.filter((v) => v.type === 'query');
    assert.deepEqual(variables.map((v) => v.name), ['job', 'instance']);
    for (const { name, definition: query = '' } of variables) {
      const match = /^label_values\((.+), (\w+)\)$/.exec(expand(query));
      assert.ok(match, `variable ${name}: ${query} is not label_values(metric, label)`);
      const series = await server.get<{ status: string; data: Array<Record<string, string>> }>(`/api/v1/series?match[]=${encodeURIComponent(match[1])}`);
      const values = new Set(series.data.map((s) => s[match[2]]));
      if (series.status !== 'success' || values.size === 0) failures.push(`variable ${name}: no values for ${query}`);
      if (name === 'job') assert.deepEqual([...values], ['bonsai']);
      if (name === 'instance') assert.deepEqual([...values], [target.address]);
    }

    const file = parse(readFileSync(RULES, 'utf8')) as RuleFile;
    const alerts = file.groups.flatMap((g) => g.rules);
    assert.ok(alerts.length >= 6, `rules.yml has ${alerts.length} rules`);
    for (const rule of alerts) {
      const answer = await server.query(rule.expr);
      if (answer.status !== 'success') failures.push(`alert ${rule.alert}: ${answer.errorType}: ${answer.error}`);
    }

    // Prometheus loaded the same rules and evaluated each without error.
    const loaded = await server.rules();
    assert.deepEqual(loaded.map((r) => r.name).sort(), alerts.map((r) => r.alert ?? r.record).sort());
    let rules = loaded;
    for (let i = 0; i < 50 && rules.some((r) => r.health === 'unknown'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rules = await server.rules();
    }
    for (const rule of rules) {
      if (rule.health !== 'ok') failures.push(`rule ${rule.name}: health ${rule.health} ${rule.lastError ?? ''}`);
    }
    // A healthy daemon after a promoted update fires none of them (some may be pending: `for` is minutes).
    const firing = rules.filter((r) => r.state === 'firing').map((r) => r.name);
    assert.deepEqual(firing, []);

    assert.deepEqual(failures, [], `${failures.join('\n')}\nprometheus log:\n${server.log()}`);

    // bonsai report draws the same panels from this Prometheus: every one has data.
    const report = await reportFromPrometheus({ url: server.url, rangeSeconds: 20, stepSeconds: 1, rateIntervalSeconds: 5 });
    assert.deepEqual(report.warnings, []);
    assert.deepEqual(report.panels.filter((p) => p.series.length === 0).map((p) => `${p.panel.title}: ${p.note}`), []);
    const png = await renderReportPng(report, { scale: 1 });
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  } finally {
    traffic = false;
    await load;
    await prometheus?.stop();
    await target.close();
  }
});
