import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUDGET_FACTORS, runMnistExperiment, type BudgetRow, type ExperimentResults } from '../../experiments/mnist.ts';
import type { ProgressSink } from '../../experiments/progress.ts';

const tiny = {
  limit: 900, validation: 300, testLimit: 300, rounds: 2, extras: false,
  update: { newDataEpochs: 1, allDataEpochs: 1, trainEpochs: 2, maxPruneIterations: 2, retrainEpochs: 1, augment: false },
};
const isPng = (path: string) => [...readFileSync(path).subarray(0, 4)].join(',') === '137,80,78,71';

test('the MNIST experiment writes every method and round, the comparison table and plots; --only budget adds the growth-budget ablation', async () => {
  const out = mkdtempSync(join(tmpdir(), 'bonsai-mnist-'));
  const lines: string[] = [];
  const progress: ProgressSink = { line: (l) => lines.push(l), event: () => undefined, stop: () => undefined };
  try {
    const res = await runMnistExperiment({ model: 'lenet300', profile: 'smoke', out, seed: 5, overrides: tiny, command: 'test run', progress });
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    assert.deepEqual(json.data, { train: 600, validation: 300, test: 300, partSize: 60 });
    assert.deepEqual(json.rounds.map((r) => `${r.method}@${Math.round(r.fraction * 100)}`), ['tfs@10', 'nft@10', 'ours@10', 'tfs@20', 'nft@20', 'ours@20']);
    for (const r of json.rounds) {
      assert.ok(r.errorRate >= 0 && r.errorRate <= 1 && r.params > 0 && r.params <= r.denseParams && r.sampleEpochs > 0, JSON.stringify(r));
      assert.ok(Math.abs(r.epochs - r.sampleEpochs / (r.fraction === 0.1 ? 60 : 120)) < 1e-9);
    }
    // Ours' second update: E1 = 1 epoch of the 60 new images plus one growth evaluation, E2 likewise on all 120.
    const ours = json.rounds[5];
    assert.equal(ours.phases['growth-new'].sampleEpochs, 2 * 60);
    assert.equal(ours.phases['growth-all'].sampleEpochs, 2 * 120);
    assert.equal(json.config.learningRateSchedule, 'cosine');
    assert.equal(res.rounds.length, 6);
    assert.ok(!existsSync(join(out, 'checkpoint')), 'the checkpoint is removed after a finished run');
    let md = readFileSync(join(out, 'results.md'), 'utf8');
    assert.ok(md.includes('Made by `test run`') && md.includes('cosine learning rate') && md.includes('| 20 % | ') && md.includes('## Ours against the baselines'));
    for (const png of ['error.png', 'params.png', 'cost.png']) assert.ok(isPng(join(out, png)), png);

    await runMnistExperiment({ model: 'lenet300', profile: 'smoke', out, seed: 5, overrides: tiny, only: 'budget', command: 'budget run', progress });
    const withBudget = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ExperimentResults;
    const rows = withBudget.extra.budget as BudgetRow[];
    assert.deepEqual(rows.map((b) => `x${b.factor}@${Math.round(b.fraction * 100)}`), BUDGET_FACTORS.flatMap((f) => [`x${f}@10`, `x${f}@20`]));
    // A larger growth budget costs more at the update: E1 and E2 scale, pruning does not.
    const second = (f: number) => rows.find((b) => b.factor === f && b.fraction === 0.2) as BudgetRow;
    assert.ok(second(BUDGET_FACTORS[1]).sampleEpochs > second(BUDGET_FACTORS[0]).sampleEpochs);
    assert.deepEqual(withBudget.rounds, json.rounds, 'the main rounds are kept');
    md = readFileSync(join(out, 'results.md'), 'utf8');
    assert.ok(md.includes('## Budget ablation') && md.includes('Made by `budget run`'));
    assert.equal(md.split('\n').filter((l) => /^\| (10|20) % \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \(/.test(l)).length, 2, md);
    assert.ok(isPng(join(out, 'budget.png')));
    assert.ok(lines.some((l) => l.includes('budget x3: round 2/2')));
  } finally {
    progress.stop();
    rmSync(out, { recursive: true, force: true });
  }
});
