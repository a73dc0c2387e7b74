/** A classifier's validation error by class, and the warning when a candidate is no better than the majority class. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { classBreakdown, classNotLearned } from '../../daemon/trainer/classes.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { startTrainer } from '../../daemon/trainer/index.ts';
import { drop, FAST_UPDATE, tempStateDir, testConfig, TINY_MODEL, waitFor } from './e2e-helpers.ts';

test('classBreakdown: per-class errors, their mean, the majority answer and the worst class', () => {
  // 95 samples of "three" all right, 5 of "eight" all wrong: what always answering "three" gives.
  const truth = [...Array(95).fill(0), ...Array(5).fill(1)];
  const collapsed = classBreakdown(truth.map((t) => (t === 1 ? 1 : 0)), truth, ['three', 'eight', 'unseen']);
  assert.deepEqual(collapsed, { balancedError: 0.5, majority: { label: 'three', error: 0.05 }, worst: { label: 'eight', error: 1, samples: 5 }, classes: 2 });
  assert.equal(classNotLearned(0.05, collapsed!), 'majority');
  assert.equal(classNotLearned(0.04, collapsed!), 'class', 'one sample better than the majority, but eight still unlearned');
  // The audit's run: six of seven eights wrong, 6.19 % overall against 7.22 % for the majority.
  const rare = classBreakdown([...Array(90).fill(0), 1, 1, 1, 1, 1, 1, 0], [...Array(90).fill(0), ...Array(7).fill(1)], ['three', 'eight']);
  assert.equal(classNotLearned(6 / 97, rare!), 'class');
  // Four samples cannot raise it; half of five can.
  assert.equal(classNotLearned(0.04, classBreakdown([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1], ['a', 'b'])!), null);
  assert.equal(classNotLearned(0.3, classBreakdown([0, 0, 0, 0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1], ['a', 'b'])!), 'class');
  // Balanced data, a few errors everywhere: nothing to warn about.
  const even = classBreakdown([1, 0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], ['a', 'b']);
  assert.deepEqual(even, { balancedError: 0.25, majority: { label: 'a', error: 0.5 }, worst: { label: 'a', error: 0.25, samples: 4 }, classes: 2 });
  assert.equal(classNotLearned(0.25, even!), null);
  // One class in validation: no other class to miss.
  assert.equal(classNotLearned(0, classBreakdown([0, 0], [1, 1], ['a', 'b'])!), null);
  assert.equal(classBreakdown([], [], ['a']), null);
});

test('the updater warns when a candidate is no better than always answering the majority class, and the manifest keeps the per-class figures', async () => {
  const stateDir = tempStateDir('bonsai-classes-');
  const log = new MemoryLog();
  const d = await startDaemon(testConfig(stateDir), {
    model: TINY_MODEL, update: FAST_UPDATE, log, defaultMetrics: false,
    // The trainer's own figures for this candidate, then one as a collapsed model would report them.
    startTrainer: (options) => {
      const handle = startTrainer(options);
      const result = handle.result.then((r) => ({ ...r, candidateError: 0.25, classes: { balancedError: 0.5, majority: { label: 'a', error: 0.25 }, worst: { label: 'b', error: 1, samples: 3 }, classes: 4 } }));
      return { pid: handle.pid, result, kill: (reason, graceMs) => handle.kill(reason, graceMs) };
    },
  });
  try {
    await drop(join(stateDir, 'inbox'), 40, 0);
    await waitFor('one finished update', () => d.updater.records().length >= 1 && !d.scheduler.busy, 45_000);
    const warned = log.events.find((e) => e.event === 'update.class_not_learned');
    assert.ok(warned, 'update.class_not_learned');
    assert.equal(warned.fields.kind, 'majority');
    assert.equal(warned.level, 'warn');
    assert.match(String(warned.fields.reason), /no better than always answering "a" \(25\.00 %\).*"b" wrong on 100\.00 % of its 3 validation samples/);
    const trained = log.events.find((e) => e.event === 'update.trained');
    assert.equal(trained?.fields.balancedError, 0.5);
    // The real candidate's per-class figures are in its manifest.
    const manifest = (await d.registry.get(1)).manifest;
    assert.equal(typeof manifest.metrics.balancedValidationError, 'number');
    assert.ok(manifest.metrics.majorityValidationError > 0 && manifest.metrics.majorityValidationError < 1);
    // Beside the error in the metrics, for the dashboard's error panel.
    const text = await (await fetch(`${d.url}/metrics`)).text();
    const gauge = (dataset: string): number => Number(new RegExp(`^bonsai_eval_error_ratio\\{role="champion",dataset="${dataset}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.equal(gauge('validation_majority'), manifest.metrics.majorityValidationError);
    assert.equal(gauge('validation_balanced'), manifest.metrics.balancedValidationError);
  } finally {
    await d.stop('test done');
    rmSync(stateDir, { recursive: true, force: true });
  }
});
