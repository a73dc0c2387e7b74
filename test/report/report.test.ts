/**
 * `bonsai report`: panel data from the registry history and from Prometheus'
 * HTTP API (a fake one here; test/deploy/prometheus-live.test.ts uses the real
 * server), the rendered page, and the command's options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import { openRegistry } from '../../daemon/registry/index.ts';
import { allPanels, expandQuery, parseDuration, renderReportPng, renderReportSvg, reportFromHistory, reportFromPrometheus, type PanelData, type ReportData } from '../../report/index.ts';
import { registerReport } from '../../cli/commands/report.ts';

function tempState(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-report-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Versions 1..4: 3 rejected, 1, 2, 4 promoted, then a rollback to 2. */
async function seedRegistry(stateDir: string): Promise<void> {
  let t = Date.UTC(2024, 0, 1);
  const registry = await openRegistry(join(stateDir, 'models'), { now: () => new Date((t += 60_000)) });
  for (let i = 1; i <= 4; i++) {
    const v = await registry.publish(async (dir) => writeFile(join(dir, 'weights.bin'), `v${i}`), {
      samplesSeen: 1000 * i,
      metrics: { validationAccuracy: 0.9 + 0.01 * i, testErrorRate: 0.1 - 0.01 * i },
      parameters: { dense1: { live: 1000 - 100 * i, total: 10_000 }, dense2: { live: 50, total: 100 } },
      cost: { sampleEpochs: 5000 * i, epochs: 1.5, flops: 1e9 * i, wallSeconds: 10 * i },
      backend: 'wasm',
      timings: { growNew: 1, growAll: 2 * i, prune: 3 },
    });
    if (i === 3) await registry.reject(v, 'lower accuracy');
    else await registry.promote(v, 'better');
  }
  await registry.rollback('operator');
}

function panel(data: ReportData, title: string): PanelData {
  const found = data.panels.find((p) => p.panel.title === title);
  assert.ok(found, `no panel "${title}"`);
  return found;
}

function values(d: PanelData): Record<string, Array<[number, number]>> {
  return Object.fromEntries(d.series.map((s) => [s.name, s.points.map((p) => [p.x, p.y] as [number, number])]));
}

test('durations and dashboard variables', () => {
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('7d'), 604_800);
  for (const bad of ['', '10', '5 minutes', '0s', 'h']) assert.throws(() => parseDuration(bad), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DEPLOY_BAD_DURATION', bad);
  assert.equal(
    expandQuery('rate(x{job=~"$job",instance=~"${instance}"}[$__rate_interval])', { job: 'bonsai', instance: '10.0.0.1:8080', rateIntervalSeconds: 90 }),
    'rate(x{job=~"bonsai",instance=~"10.0.0.1:8080"}[90s])',
  );
});

test('report from the registry history: per-version quality, size, cost; champion after a rollback', async () => {
  const { dir, cleanup } = tempState();
  try {
    await seedRegistry(dir);
    const data = await reportFromHistory(dir);
    assert.equal(data.panels.length, allPanels().length);
    assert.deepEqual(values(panel(data, 'Held-out accuracy by version')), { validationAccuracy: [1, 2, 3, 4].map((i) => [i, 0.9 + 0.01 * i]) });
    assert.deepEqual(values(panel(data, 'Error rate by version')).testErrorRate.map(([v, e]) => [v, Number(e.toFixed(2))]), [[1, 0.09], [2, 0.08], [3, 0.07], [4, 0.06]]);
    assert.deepEqual(values(panel(data, 'Live parameters')), {
      live: [[1, 950], [2, 850], [3, 750], [4, 650]],
      dense: [[1, 10_100], [2, 10_100], [3, 10_100], [4, 10_100]],
    });
    // The champion after the rollback is version 2: its density.
    const density = panel(data, 'Density per layer');
    assert.deepEqual(values(density), { dense1: [[2, 0.08]], dense2: [[2, 0.5]] });
    assert.match(density.note ?? '', /version 2 \(champion\)/);
    const versions = panel(data, 'Versions').series.map((s) => s.name);
    assert.match(versions[0], /^champion v2 since 2024-01-01 /);
    assert.equal(versions[1], 'newest v4 (rolled-back)');
    assert.deepEqual(values(panel(data, 'Updates by outcome')), { retired: [[1, 1]], promoted: [[2, 1]], rejected: [[3, 1]], 'rolled-back': [[4, 1]] });
    assert.deepEqual(values(panel(data, 'Training cost (sample-epochs)'))['sample-epochs'], [[1, 5000], [2, 10_000], [3, 15_000], [4, 20_000]]);
    assert.deepEqual(values(panel(data, 'Update time by phase')).growAll, [[1, 2], [2, 4], [3, 6], [4, 8]]);
    const changes = values(panel(data, 'Swaps'));
    assert.equal(changes.promote.length, 3);
    assert.equal(changes.rollback.length, 1);
    assert.ok(changes.rollback[0][0] > changes.promote[2][0], 'the rollback came after the last promotion');
    // Live signals only Prometheus has.
    for (const title of ['Drift', 'Predict latency', 'Ingestion rate']) {
      assert.deepEqual(panel(data, title).series, []);
      assert.match(panel(data, title).note ?? '', /only in Prometheus/);
    }
  } finally {
    cleanup();
  }
});

test('report from a registry without versions says there is no history; a missing one is unavailable', async () => {
  const { dir, cleanup } = tempState();
  try {
    await assert.rejects(reportFromHistory(dir), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_REGISTRY_UNAVAILABLE');
    mkdirSync(join(dir, 'models'));
    await assert.rejects(reportFromHistory(dir), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DEPLOY_NO_HISTORY' && e.message.includes(join(dir, 'models')));
  } finally {
    cleanup();
  }
});

async function body(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return new URLSearchParams(text);
}

test('report from Prometheus: expanded queries, legends, NaN dropped, a failed query becomes a note', async () => {
  const seen: Array<{ path: string; params: URLSearchParams }> = [];
  const server = createServer((req, res) => {
    void body(req).then((params) => {
      const path = req.url ?? '';
      seen.push({ path, params });
      const query = params.get('query') ?? '';
      res.setHeader('content-type', 'application/json');
      if (query.includes('bonsai_drift_score')) {
        res.statusCode = 400;
        res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
      } else if (query.includes('bonsai_prequential_accuracy_ratio')) {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: { instance: 'a:8080' }, values: [[1000, 'NaN'], [1060, '0.9'], [1120, '0.95']] }] } }));
      } else if (path.startsWith('/prom/api/v1/query_range')) {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
      } else {
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { layer: 'dense1', role: 'serving', version: '3' }, value: [1120, '0.25'] }] } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  try {
    const data = await reportFromPrometheus({ url: `http://127.0.0.1:${port}/prom/`, rangeSeconds: 3600, end: new Date(1_000_000), job: 'bonsai' });
    assert.deepEqual(values(panel(data, 'Prequential accuracy')), { 'a:8080': [[1_060_000, 0.9], [1_120_000, 0.95]] });
    assert.deepEqual(values(panel(data, 'Density per layer')), { dense1: [[1_120_000, 0.25]] });
    assert.deepEqual(panel(data, 'Drift').series, []);
    assert.match(panel(data, 'Drift').note ?? '', /query failed: A: bad_data: parse error/);
    assert.deepEqual(data.warnings, ['panel "Drift" A: bad_data: parse error']);
    assert.equal(panel(data, 'Ingestion rate').note, 'no data in this range');

    const range = seen.find((s) => s.params.get('query')?.includes('bonsai_prequential_accuracy_ratio'));
    assert.equal(range?.path, '/prom/api/v1/query_range');
    assert.equal(range?.params.get('query'), 'bonsai_prequential_accuracy_ratio{job=~"bonsai",instance=~".+"}');
    assert.deepEqual([range?.params.get('start'), range?.params.get('end'), range?.params.get('step')], ['-2600', '1000', '18s']);
    const instant = seen.find((s) => s.path === '/prom/api/v1/query');
    assert.equal(instant?.params.get('time'), '1000');
    const rates = seen.filter((s) => s.params.get('query')?.includes('rate('));
    assert.ok(rates.length > 5 && rates.every((s) => s.params.get('query')?.includes('[60s]') && !s.params.get('query')?.includes('$')), 'rate windows expanded to max(step, 60s)');
    assert.equal(seen.length, allPanels().reduce((n, p) => n + p.targets.length, 0), 'one request per panel query');
  } finally {
    server.close();
  }
  await assert.rejects(reportFromPrometheus({ url: `http://127.0.0.1:${port}`, rangeSeconds: 60, timeoutMs: 2000 }), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_DEPLOY_PROMETHEUS_UNREACHABLE');
});

test('the page renders every panel title and series as SVG, and as a PNG scaled from it', async () => {
  const { dir, cleanup } = tempState();
  try {
    await seedRegistry(dir);
    const data = await reportFromHistory(dir);
    const svg = await renderReportSvg(data, { columns: 3, panelWidth: 300, panelHeight: 120 });
    for (const p of allPanels()) assert.ok(svg.includes(p.title.replaceAll('&', '&amp;')), `SVG lacks "${p.title}"`);
    for (const name of ['validationAccuracy', 'rolled-back', 'dense1', 'champion v2 since']) assert.ok(svg.includes(name), `SVG lacks ${name}`);
    const svgWidth = Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
    const png = await renderReportPng(data, { columns: 3, panelWidth: 300, panelHeight: 120, scale: 2 });
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(Math.abs((meta.width ?? 0) - 2 * svgWidth) <= 2, `PNG width ${meta.width} for an SVG ${svgWidth} wide at scale 2`);
  } finally {
    cleanup();
  }
});

async function runReport(args: string[]): Promise<void> {
  const program = new Command();
  program.exitOverride();
  registerReport(program);
  await program.parseAsync(['node', 'bonsai', 'report', ...args]);
}

test('bonsai report --state-dir writes the page; bad options are usage errors', async () => {
  const { dir, cleanup } = tempState();
  const write = process.stdout.write;
  try {
    await seedRegistry(dir);
    const out = join(dir, 'page.svg');
    let printed = '';
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    await runReport(['--state-dir', dir, '--out', out, '--columns', '4']);
    process.stdout.write = write;
    assert.match(readFileSync(out, 'utf8'), /^<svg[^>]*>[\s\S]*Held-out accuracy by version/);
    assert.equal(printed, `wrote ${out}: 21 panels, 12 with data\n`);
    // --state-dir=~/x, which the shell leaves as it is, is under the home directory, as in the config.
    const home = process.env.HOME;
    process.env.HOME = dirname(dir);
    try {
      await runReport([`--state-dir=~/${basename(dir)}`, '--out', join(dir, 'home.svg')]);
    } finally {
      process.env.HOME = home;
    }
    assert.match(readFileSync(join(dir, 'home.svg'), 'utf8'), /^<svg/);
    for (const [args, flag] of [[['--columns', '0'], '--columns'], [['--prometheus', 'http://127.0.0.1:1', '--range', '1 day'], '--range'], [['--prometheus', 'not a url'], '--prometheus']] as const) {
      await assert.rejects(runReport(['--state-dir', dir, '--out', out, ...args]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CLI_BAD_OPTION' && e.message.startsWith(flag));
    }
  } finally {
    process.stdout.write = write;
    cleanup();
  }
});
