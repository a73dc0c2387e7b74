#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's test runner through tsx (Node 20's
// `--test` does not expand globs). Extra arguments filter files by substring:
// `npm test -- store` runs only the tests whose path contains "store".
//
// Two tiers. `npm test` runs them all. `npm run test:unit` (`--unit`) leaves out
// the files of FULL_TIER_ONLY: those that start child processes (the trainer, the
// `bonsai` command, promtool, mkfifo) or servers, and the few that train a model
// or run an experiment for many seconds. It loads scripts/unit-guard.js into the
// rest, so a unit test that starts a child process or a server fails and says so.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Test files the unit tier leaves out. */
const FULL_TIER_ONLY = [
  // Slow: a full update of ResNet-18 or ds2, the experiments' harness (5-50 s each).
  'test/core/ds2-update.test.ts',
  'test/core/resnet18.test.ts',
  'test/daemon/trainer-speech.test.ts',
  'test/experiments/fsdd.test.ts',
  'test/experiments/mnist.test.ts',
  // Child processes or servers.
  'test/cli/check.test.ts',
  'test/cli/client.test.ts',
  'test/core/model-registry.test.ts',
  'test/daemon/artifacts-promote.test.ts',
  'test/daemon/champion-corrupt.test.ts',
  'test/daemon/champion-lost.test.ts',
  'test/daemon/daemon-lifecycle.test.ts',
  'test/daemon/daemon-server-role.test.ts',
  'test/daemon/e2e-restart.test.ts',
  'test/daemon/e2e-speech.test.ts',
  'test/daemon/e2e-swaps.test.ts',
  'test/daemon/e2e-update.test.ts',
  'test/daemon/inbox-hostile.test.ts',
  'test/daemon/model-options.test.ts',
  'test/daemon/registry-crash.test.ts',
  'test/daemon/role-follow.test.ts',
  'test/daemon/server-drain.test.ts',
  'test/daemon/server-inflight.test.ts',
  'test/daemon/state-lock.test.ts',
  'test/daemon/status-paths.test.ts',
  'test/daemon/trainer.test.ts',
  'test/daemon/watch.test.ts',
  'test/deploy/dockerfile-healthcheck.test.ts',
  'test/deploy/prometheus-live.test.ts',
  'test/deploy/prometheus-rules.test.ts',
  'test/deploy/systemd.test.ts',
  'test/pipelines/check.test.ts',
  'test/pipelines/ingest-crash.test.ts',
  'test/pipelines/ingest-hostile.test.ts',
  'test/pipelines/store-schema.test.ts',
  'test/report/report.test.ts',
  // Also child processes or servers (a daemon, mkfifo, python3), found by running the unit tier.
  'test/cli/start-errors.test.ts',
  'test/config/load.test.ts',
  'test/daemon/class-limit.test.ts',
  'test/daemon/classes.test.ts',
  'test/daemon/data-budget.test.ts',
  'test/daemon/mirror-cache.test.ts',
  'test/daemon/relabel.test.ts',
  'test/daemon/server-limits.test.ts',
  'test/daemon/stop-backlog.test.ts',
  'test/daemon/storage-full.test.ts',
  'test/experiments/torch-reference.test.ts',
  'test/pipelines/ingest-cross-device.test.ts',
  'test/pipelines/ingest.test.ts',
];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.ts') ? [path] : [];
  });
}

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');
const fullTierOnly = new Set(FULL_TIER_ONLY);
const files = walk('test')
  .filter((f) => !unit || !fullTierOnly.has(f.split('\\').join('/')))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no ${unit ? 'unit ' : ''}test files match ${JSON.stringify(filters)}`);
  process.exit(1);
}
const guard = unit ? ['--import', new URL('unit-guard.js', import.meta.url).href] : [];
const result = spawnSync(process.execPath, ['--import', 'tsx', ...guard, '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
