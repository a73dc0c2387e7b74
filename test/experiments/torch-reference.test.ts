import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findTorchPython, runTorchReference } from '../../bench/torch-reference.ts';

// The PyTorch reference of bench/throughput.ts is a benchmark's comparison, never a product
// dependency: where no python3 imports torch (CI), these tests are skipped and say why.
const torch = findTorchPython();
const skip = torch.python === null ? torch.reason : false;
const SCRIPT = fileURLToPath(new URL('../../bench/torch_reference.py', import.meta.url));

test('the reference trains on W as it would on W*M (masked weights stay zero, the same weights after five steps)', { skip }, () => {
  const r = spawnSync(torch.python as string, [SCRIPT, '--check'], { encoding: 'utf8', timeout: 120_000 });
  const report = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ok: boolean; results: { model: string; density: number; maxWeightDiff: number; maskedWeightsZero: boolean }[] };
  assert.equal(r.status, 0, r.stderr);
  assert.equal(report.ok, true);
  assert.deepEqual(report.results.map((x) => `${x.model}@${x.density}`).sort(), ['lenet300@0.3', 'lenet300@1', 'lenet5@0.3', 'lenet5@1', 'resnet18@0.3', 'resnet18@1']);
  for (const x of report.results) {
    assert.ok(x.maxWeightDiff < 1e-5, `${x.model}@${x.density}: ${x.maxWeightDiff}`);
    assert.equal(x.maskedWeightsZero, true);
  }
});

test('the reference fixes glibc\'s mmap threshold unless told not to, and reports which', { skip }, () => {
  const fixed = runTorchReference(torch.python as string, 'lenet300', { seconds: 0.05 });
  assert.equal(fixed.allocator, 'glibc, mmap threshold fixed at 32 MiB');
  assert.equal(fixed.threads, 1);
  assert.ok(fixed.trainSamplesPerSec > 0 && fixed.inferBatch1PerSec > 0 && fixed.inferBatch128PerSec > 0);
  const r = spawnSync(torch.python as string, [SCRIPT, '--model', 'lenet300', '--seconds', '0.05', '--default-allocator'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match((JSON.parse(r.stdout.trim()) as { allocator: string }).allocator, /default/);
});
