/**
 * End to end, in one process: files dropped into the inbox -> stored ->
 * threshold -> trainer child -> gate -> registry -> hot swap -> predictions
 * answered by the new version; a worse candidate rejected; /metrics complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigInput } from '../../config/index.ts';
import { startDaemon, type Daemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { LABEL_VALUES } from '../../daemon/metrics/index.ts';
import { listFiles } from '../../pipelines/ingest/index.ts';
import { startTrainer } from '../../daemon/trainer/index.ts';
import { drop, FAST_UPDATE, LABELS, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

interface MetricFamily { name: string; type: string; metrics: Array<{ labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }> }
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

async function withDaemon(fn: (d: Daemon, stateDir: string, log: MemoryLog) => Promise<void>, options: Parameters<typeof startDaemon>[1] = {}, config: ConfigInput = {}): Promise<void> {
  const stateDir = tempStateDir();
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir, config), { model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false, ...options });
  try {
    await fn(d, stateDir, log);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function finished(d: Daemon, n: number): Promise<void> {
  await waitFor(`${n} finished updates`, () => d.updater.records().length >= n && !d.scheduler.busy, 45_000);
}

test('dropped files are stored, trigger an update, and the promoted version answers predictions', async () => {
  // Arrival order (and so batch order) varies between runs; a small tolerance keeps a one-sample
  // difference on ~9 validation samples from rejecting the second version.
  await withDaemon(async (d, stateDir, log) => {
    assert.equal(d.holder.version, null);
    const none = await predictPng(d.url, 0, 999);
    assert.equal(none.status, 503);
    assert.equal(none.body.error?.code, 'BONSAI_HTTP_NO_MODEL');

    await drop(join(stateDir, 'inbox'), 40, 0);
    await finished(d, 1);
    const first = d.updater.last()!;
    assert.equal(first.outcome, 'promoted', first.verdict);
    assert.equal(first.trigger, 'threshold');
    assert.equal(first.version, 1);
    assert.equal(d.holder.version, 1);
    assert.equal(readFileSync(join(stateDir, 'models', 'CURRENT'), 'utf8').trim(), '1');
    // Progress shows at the default level: a line per training epoch and per pruning iteration.
    const progress = log.events.filter((e) => e.event === 'update.progress' && e.level === 'info').map((e) => e.fields);
    const epochs = progress.filter((f) => f.kind === 'epoch');
    assert.ok(epochs.length >= 1 && epochs.every((f) => typeof f.loss === 'number' && Number.isFinite(f.loss)), JSON.stringify(progress.slice(0, 3)));
    assert.ok(progress.some((f) => f.kind === 'prune' && typeof f.errorRate === 'number'), 'a pruning iteration logged at info');
    // The trained line sums pruning up: as many iterations as were logged, how many were kept, why it stopped.
    const trained = log.events.filter((e) => e.event === 'update.trained').map((e) => e.fields as { prune?: { iterations: number; accepted: number; stop: string; referenceError: number; referenceDraws: number } });
    const summary = trained[0]?.prune;
    assert.ok(summary, JSON.stringify(trained[0]));
    assert.equal(summary.iterations, progress.filter((f) => f.kind === 'prune').length);
    assert.ok(summary.accepted >= 0 && summary.accepted <= summary.iterations);
    assert.ok(['failures', 'max-iterations', 'nothing-to-prune'].includes(summary.stop), summary.stop);
    assert.ok(summary.referenceError >= 0 && summary.referenceError <= 1);
    assert.equal(summary.referenceDraws, 1, 'the default reference is one draw');

    // Every file left the inbox for the archive, once; every sample is marked trained by version 1.
    assert.deepEqual(listFiles(join(stateDir, 'inbox')), []);
    assert.equal(listFiles(join(stateDir, 'archive')).length, 40);
    const counts = d.store.counts();
    assert.equal(counts.total, 40);
    assert.equal(counts.pending, 0);

    // Unseen samples of each class are answered by version 1, mostly correctly (the task is easy).
    let right = 0;
    for (let i = 0; i < 20; i++) {
      const r = await predictPng(d.url, i % 4, 10_000 + i);
      assert.equal(r.status, 200);
      assert.equal(r.body.version, 1);
      if (r.body.label === LABELS[i % 4]) right++;
    }
    assert.ok(right >= 16, `version 1 labelled ${right} of 20 correctly`);

    // A second arrival of 40 grows version 2 from version 1, which then answers.
    await drop(join(stateDir, 'inbox'), 40, 100);
    await finished(d, 2);
    const second = d.updater.last()!;
    assert.equal(second.outcome, 'promoted', second.verdict);
    assert.equal(second.version, 2);
    assert.equal(second.parent, 1);
    assert.equal(second.sizes?.allData !== undefined && second.sizes.allData > second.sizes.newData, true);
    const r = await predictPng(d.url, 3, 20_000);
    assert.equal(r.body.version, 2);
    const manifest = (await d.registry.get(2)).manifest;
    assert.equal(manifest.state, 'promoted');
    assert.equal(manifest.parent, 1);
    assert.ok(manifest.cost.sampleEpochs > 0);
    assert.equal((await d.registry.get(1)).manifest.state, 'retired');

    // The prequential window scored the second arrival with version 1 before it was trained on.
    assert.ok(d.prequential.counts.scored >= 40, `scored ${d.prequential.counts.scored}`);
    // One event per lifecycle step, with the version and the figures.
    const promoted = log.named('update.promoted');
    assert.equal(promoted.length, 2);
    assert.equal(promoted[1].version, 2);
    assert.equal(typeof promoted[1].candidateError, 'number');
    assert.equal(log.named('update.started').length, 2);
    assert.equal(log.named('model.swapped').length, 2);
  }, {}, { gate: { tolerance: 0.25 } });
});

test('a candidate worse than the champion is rejected with the reason and the champion keeps serving', async () => {
  let calls = 0;
  await withDaemon(async (d, stateDir) => {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await finished(d, 1);
    assert.equal(d.updater.last()?.outcome, 'promoted');
    await drop(join(stateDir, 'inbox'), 40, 200);
    await finished(d, 2);
    const rec = d.updater.last()!;
    assert.equal(rec.outcome, 'rejected', rec.verdict);
    assert.ok(rec.candidateError! > rec.championError!, `${rec.candidateError} vs ${rec.championError}`);
    const v2 = (await d.registry.get(2)).manifest;
    assert.equal(v2.state, 'rejected');
    assert.match(v2.reason ?? '', /validation error .* vs champion 1's .*excess [\d.]+ > margin/);
    assert.equal(readFileSync(join(stateDir, 'models', 'CURRENT'), 'utf8').trim(), '1');
    assert.equal(d.holder.version, 1);
    assert.equal((await predictPng(d.url, 1, 5)).body.version, 1);
    // The samples were seen by an update: they do not trigger it again.
    assert.equal(d.store.counts().pending, 0);
    const history = await d.registry.history();
    assert.ok(history.some((h) => h.event === 'reject' && h.version === 2));
  }, {
    // The second update climbs the loss instead of descending it (a negative learning rate): a worse candidate.
    startTrainer: (options) => {
      calls += 1;
      const job = calls === 2 ? { ...options.job, update: { ...options.job.update, optimizer: { kind: 'sgd' as const, learningRate: -0.5, momentum: 0 }, pruneLearningRate: -0.5 } } : options.job;
      return startTrainer({ ...options, job });
    },
  });
});

test('/metrics parses as Prometheus text and has every metric of docs/metrics.md', async () => {
  await withDaemon(async (d, stateDir) => {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await finished(d, 1);
    await drop(join(stateDir, 'inbox'), 8, 300);
    await waitFor('8 more samples scored', () => d.prequential.counts.scored >= 8);
    for (let i = 0; i < 3; i++) assert.equal((await predictPng(d.url, i, 40 + i)).status, 200);
    // The store gauges are refreshed shortly after commits.
    const text = await waitFor('the pending gauge', async () => {
      const res = await fetch(`${d.url}/metrics`);
      assert.equal(res.status, 200);
      const body = await res.text();
      return /^bonsai_pending_samples 8$/m.test(body) ? body : null;
    });
    const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
    const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^### `(bonsai_[a-z_]+)`/gm)].map((m) => m[1]);
    assert.ok(documented.length >= 20);
    for (const name of documented) assert.ok(families.has(name), `${name} is documented but not exported`);
    const value = (name: string, labels: Record<string, string> = {}): number => {
      const m = families.get(name)?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
      assert.ok(m, `${name}${JSON.stringify(labels)} missing`);
      return Number(m.value);
    };
    assert.equal(value('bonsai_updates_total', { trigger: 'threshold', outcome: 'promoted' }), 1);
    assert.equal(value('bonsai_model_info', { role: 'serving', version: '1' }), 1);
    assert.equal(value('bonsai_model_info', { role: 'champion', version: '1' }), 1);
    assert.equal(value('bonsai_ingest_files_total', { modality: 'image', outcome: 'accepted' }), 48);
    assert.equal(value('bonsai_pending_samples'), 8);
    assert.equal(value('bonsai_store_samples', { split: 'train' }) + value('bonsai_store_samples', { split: 'validation' }) + value('bonsai_store_samples', { split: 'test' }), 48);
    assert.ok(value('bonsai_training_sample_epochs_total', { phase: 'growth-all' }) > 0);
    assert.ok(value('bonsai_training_flops_total') > 0);
    assert.ok(value('bonsai_model_parameters', { role: 'champion', kind: 'live' }) > 0);
    assert.equal(value('bonsai_model_parameters', { role: 'serving', kind: 'live' }), value('bonsai_model_parameters', { role: 'champion', kind: 'live' }));
    assert.ok(value('bonsai_model_density_ratio', { role: 'serving', layer: 'fc1' }) <= 1);
    assert.ok(value('bonsai_eval_error_ratio', { role: 'champion', dataset: 'validation' }) >= 0);
    const preq = value('bonsai_prequential_accuracy_ratio');
    assert.ok(preq >= 0.5 && preq <= 1, `prequential accuracy ${preq}`);
    assert.equal(value('bonsai_predict_requests_total', { code: '200' }), 3);
    assert.equal(value('bonsai_model_swaps_total', { outcome: 'ok' }), 1);
    // Phase labels stay within the documented sets (core's own `eval` passes count as `evaluate`).
    // (From the text: the parser folds a histogram's labelled series into one.)
    const phases = new Set([...text.matchAll(/^bonsai_update_duration_seconds_count\{phase="([^"]+)"\}/gm)].map((m) => m[1]));
    assert.deepEqual([...phases].sort(), [...LABEL_VALUES.updatePhase].sort());
    assert.match(text, /^bonsai_update_duration_seconds_count\{phase="evaluate"\} 1$/m);
    assert.ok(readdirSync(join(stateDir, 'models')).includes('history.jsonl'));
  });
});
