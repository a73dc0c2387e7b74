/**
 * deploy/prometheus: `promtool check rules`, the unit tests of rules.test.yml
 * (`promtool test rules`), and `promtool check config` on the example
 * prometheus.yml. Skipped with a message when promtool is not installed
 * (scripts/ci-prometheus.sh installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { prometheusMissing } from './prometheus-server.ts';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const skip = prometheusMissing(['promtool']);

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A temporary copy of deploy/prometheus/; `edit` may change rules.yml first. */
function copy(edit?: (rules: string) => string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-rules-'));
  for (const f of ['rules.yml', 'rules.test.yml', 'prometheus.yml']) copyFileSync(join(DIR, f), join(dir, f));
  if (edit) writeFileSync(join(dir, 'rules.yml'), edit(readFileSync(join(dir, 'rules.yml'), 'utf8')));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('promtool check rules accepts rules.yml', { skip }, () => {
  const r = promtool('check', 'rules', join(DIR, 'rules.yml'));
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS: \d+ rules found/);
});

test('the alerts the issue asks for exist', () => {
  const file = parse(readFileSync(join(DIR, 'rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  const names = file.groups.flatMap((g) => g.rules.map((r) => r.alert));
  for (const name of ['BonsaiNoPromotionWhilePending', 'BonsaiPrequentialAccuracyFalling', 'BonsaiDriftHigh', 'BonsaiQuarantineSpike', 'BonsaiUpdateFailed', 'BonsaiServerVersionLag']) {
    assert.ok(names.includes(name), `${name} missing from rules.yml`);
  }
});

test('promtool test rules passes rules.test.yml, which fires at least two alerts', { skip }, () => {
  const tests = parse(readFileSync(join(DIR, 'rules.test.yml'), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };
  const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  assert.ok(fired.size >= 2, `only ${[...fired].join(', ')} tested firing`);
  const r = promtool('test', 'rules', join(DIR, 'rules.test.yml'));
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

test('the rule unit tests catch a changed threshold and a missing `for`', { skip }, () => {
  for (const [what, edit] of [
    ['drift threshold 0.25 -> 0.5', (s: string) => s.replace('(bonsai_drift_score{method="psi"}) > 0.25', '(bonsai_drift_score{method="psi"}) > 0.5')],
    ['lag without for', (s: string) => s.replace(/(group by \(namespace\) \(bonsai_model_info\{role="champion"\}\)\n)\s+for: 15m\n/, '$1')],
  ] as const) {
    const { dir, cleanup } = copy(edit);
    try {
      assert.notEqual(readFileSync(join(dir, 'rules.yml'), 'utf8'), readFileSync(join(DIR, 'rules.yml'), 'utf8'), `${what}: the edit did not apply`);
      const r = promtool('test', 'rules', join(dir, 'rules.test.yml'));
      assert.notEqual(r.status, 0, `${what}: promtool test rules still passes`);
    } finally {
      cleanup();
    }
  }
});

test('promtool check config accepts the example prometheus.yml with the rules beside it', { skip }, () => {
  const { dir, cleanup } = copy();
  try {
    copyFileSync(join(dir, 'rules.yml'), join(dir, 'bonsai-rules.yml'));
    const r = promtool('check', 'config', join(dir, 'prometheus.yml'));
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /1 rule files found/);
  } finally {
    cleanup();
  }
});
