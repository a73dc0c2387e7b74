import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createMetrics } from '../../daemon/metrics/index.ts';
import { harness } from './server-fakes.ts';

interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

// parse-prometheus-text-format ships no types; its one export parses the text format.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

interface DocumentedMetric {
  name: string;
  type: string;
  labels: string[];
}

/** Metrics of docs/metrics.md: `### \`name\`` headings with `- Type:` and `- Labels:` lines. */
function documentedMetrics(): DocumentedMetric[] {
  const text = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const sections = text.split(/^### /m).slice(1);
  return sections.map((section) => {
    const name = /^`([a-z_]+)`/.exec(section)?.[1] ?? '';
    const type = /^- Type: (\w+)/m.exec(section)?.[1] ?? '';
    const labelsLine = /^- Labels: (.*)$/m.exec(section)?.[1] ?? '';
    // Label names are the backticked words outside the parenthesised value lists.
    const names = labelsLine.replace(/\([^()]*\)/g, '');
    const labels = names === 'none' ? [] : [...names.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    return { name, type, labels };
  });
}

test('GET /metrics parses as Prometheus text and has every documented metric with its type and labels', async () => {
  const { app } = await harness({ defaultMetrics: true });
  await app.inject({ method: 'POST', url: '/v1/predict', payload: { tensor: [0, 0, 0, 0] } });
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const families = new Map(parsePrometheus(res.body).map((f) => [f.name, f]));
  const documented = documentedMetrics();
  assert.equal(documented.length, 30);
  for (const doc of documented) {
    const family = families.get(doc.name);
    assert.ok(family !== undefined, `${doc.name} is documented but not exported`);
    assert.equal(family.type, doc.type.toUpperCase(), doc.name);
    assert.ok(family.help.length > 10, `${doc.name} has a help text`);
  }
  const exported = [...families.keys()].filter((n) => n.startsWith('bonsai_')).sort();
  assert.deepEqual(exported, documented.map((d) => d.name).sort());
  // Node's default process metrics are there too.
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds']) {
    assert.ok(families.has(name), name);
  }
  // Values read at scrape time from the injected tf.memory().
  assert.equal(families.get('bonsai_tf_tensors')?.metrics[0].value, '7');
  assert.equal(families.get('bonsai_tf_memory_bytes')?.metrics[0].value, '1024');
  assert.equal(families.get('bonsai_predict_duration_seconds')?.metrics[0].count, '1');
});

test('the registry declares exactly the label names docs/metrics.md gives', async () => {
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  const declared = new Map(metrics.registry.getMetricsAsArray().map((m) => [m.name, [...((m as unknown as { labelNames: string[] }).labelNames)].sort()]));
  for (const doc of documentedMetrics()) {
    assert.deepEqual(declared.get(doc.name), [...doc.labels].sort(), doc.name);
  }
  assert.equal(declared.size, documentedMetrics().length);
});

test('counters with known label values start at 0; build info carries versions', async () => {
  const metrics = createMetrics({ version: '1.2.3', tfjsVersion: '4.22.0', backend: 'cpu', defaultMetrics: false });
  const families = new Map(parsePrometheus(await metrics.registry.metrics()).map((f) => [f.name, f]));
  const series = (name: string): Array<Record<string, string>> => (families.get(name)?.metrics ?? []).map((m) => m.labels ?? {});
  assert.equal(series('bonsai_ingest_files_total').length, 8);
  assert.equal(series('bonsai_updates_total').length, 16);
  assert.deepEqual(series('bonsai_model_swaps_total').map((l) => l.outcome).sort(), ['failed', 'ok']);
  assert.ok((families.get('bonsai_updates_total')?.metrics ?? []).every((m) => m.value === '0'));
  assert.deepEqual(series('bonsai_build_info'), [{ version: '1.2.3', node_version: process.versions.node, tfjs_version: '4.22.0', backend: 'cpu' }]);
  metrics.setBuildInfo({ backend: 'wasm' });
  const after = parsePrometheus(await metrics.registry.metrics()).find((f) => f.name === 'bonsai_build_info');
  assert.deepEqual(after?.metrics.map((m) => m.labels?.backend), ['wasm']);
});

test('setModelInfo keeps one series per role; window sources are read at scrape time', async () => {
  const metrics = createMetrics({ version: 'test', defaultMetrics: false });
  metrics.setModelInfo('serving', 3);
  metrics.setModelInfo('champion', 3);
  metrics.setModelInfo('serving', 4);
  let text = await metrics.registry.metrics();
  assert.match(text, /bonsai_model_info\{version="4",role="serving"\} 1/);
  assert.match(text, /bonsai_model_info\{version="3",role="champion"\} 1/);
  assert.doesNotMatch(text, /version="3",role="serving"/);
  metrics.setModelInfo('champion', null);
  assert.doesNotMatch(await metrics.registry.metrics(), /role="champion"/);

  // Nothing known yet (no update, no scoring source as in a serving-only process): NaN, not a 0 that reads as a measurement.
  text = await metrics.registry.metrics();
  assert.match(text, /^bonsai_prequential_accuracy_ratio NaN$/im);
  assert.match(text, /^bonsai_validation_adequate NaN$/im);
  metrics.validationAdequate.set(1);
  assert.match(await metrics.registry.metrics(), /^bonsai_validation_adequate 1$/m);

  let accuracy: number | null = null;
  metrics.sources.prequentialAccuracy = () => accuracy;
  // prom-client writes NaN as "Nan"; Prometheus parses floats case-insensitively.
  assert.match(await metrics.registry.metrics(), /^bonsai_prequential_accuracy_ratio NaN$/im);
  accuracy = 0.75;
  metrics.sources.drift = () => [{ method: 'psi', scope: 'input_mean', value: 0.3 }];
  text = await metrics.registry.metrics();
  assert.match(text, /^bonsai_prequential_accuracy_ratio 0.75$/m);
  assert.match(text, /^bonsai_drift_score\{method="psi",scope="input_mean"\} 0.3$/m);
  // Series that a source no longer reports disappear.
  metrics.sources.drift = () => [];
  assert.doesNotMatch(await metrics.registry.metrics(), /^bonsai_drift_score\{/m);
});
