import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fsddDir } from '../../pipelines/audio/index.ts';
import { runFsddExperiment, type FsddResults } from '../../experiments/fsdd.ts';

const dir = fsddDir(fileURLToPath(new URL('../../', import.meta.url)));
const skip = existsSync(dir) ? false : `FSDD recordings not found at ${dir} (set BONSAI_FSDD_DIR)`;

const tiny = {
  trainTakes: 1, validationTakes: 1, testTakes: 1, speakers: ['ours' as const], firstSpeakers: 4,
  model: { filters: '2,2,2', hidden: 4, rnnLayers: 1 },
  update: { newDataEpochs: 1, allDataEpochs: 1, trainEpochs: 1, growthInterval: 1, maxPruneIterations: 1, retrainEpochs: 1, batchSize: 64 },
};

test('the FSDD experiment runs both scenarios with a held-out speaker and writes results.json, results.md and plots', { skip }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'bonsai-fsdd-'));
  try {
    const lines: string[] = [];
    const res = await runFsddExperiment({ profile: 'smoke', out, seed: 3, holdOutSpeaker: 'theo', overrides: tiny, log: (l) => lines.push(l) });
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as FsddResults;
    assert.equal(json.dataset, 'fsdd');
    assert.equal(json.model, 'ds2');
    assert.equal(json.profile, 'smoke');
    assert.equal(json.seed, 3);
    // Five speakers x ten digits x one take; theo is nowhere in training.
    assert.deepEqual(json.data, { ...json.data, train: 50, validation: 50, test: 50, partSize: 5, heldOutSpeaker: 'theo' });
    assert.ok(!json.data.speakerOrder.includes('theo') && json.data.speakerOrder.length === 5);
    const fractions = json.rounds.filter((r) => r.scenario === 'fractions');
    // Ours at 40..100 %, NFT at 90 and 100 %, TFS at 100 % (baselines on the last update only).
    assert.deepEqual(fractions.map((r) => `${r.method}@${Math.round(r.fraction * 100)}`), ['ours@40', 'ours@50', 'ours@60', 'ours@70', 'ours@80', 'ours@90', 'nft@90', 'ours@100', 'tfs@100', 'nft@100']);
    for (const r of json.rounds) {
      for (const key of ['fraction', 'errorRate', 'params', 'denseParams', 'epochs', 'sampleEpochs', 'flops', 'wallSeconds', 'cer', 'heldOutWer'] as const) {
        assert.equal(typeof r[key], 'number', `${key} of ${r.method}@${r.fraction}`);
      }
      assert.ok(r.errorRate >= 0 && r.params <= r.denseParams && r.sampleEpochs > 0);
      assert.ok(Math.abs(r.epochs - r.sampleEpochs / (r.scenario === 'fractions' ? (r.fraction === 1 ? 50 : Math.round(r.fraction * 10) * 5) : r.sampleEpochs / r.epochs)) < 1e-9);
    }
    const speakers = json.rounds.filter((r) => r.scenario === 'speakers');
    assert.equal(speakers.length, 2);
    assert.equal(speakers[1].newSpeaker, json.data.speakerOrder[4]);
    assert.equal(typeof speakers[1].newSpeakerWerBefore, 'number');
    assert.equal(typeof speakers[1].newSpeakerWerAfter, 'number');
    assert.ok((json.extra.throughput as Record<string, number>).trainSamplesPerSecond > 0);
    assert.equal(res.rounds.length, json.rounds.length);
    const md = readFileSync(join(out, 'results.md'), 'utf8');
    assert.ok(md.includes('## Scenario 1') && md.includes('## Scenario 2') && md.includes('samples/s') && md.includes('held-out WER'));
    for (const png of ['wer.png', 'params.png', 'cost.png', 'speakers.png']) {
      assert.deepEqual([...readFileSync(join(out, png)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], png);
    }
    assert.ok(lines.some((l) => l.includes('new speaker')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('an unknown speaker to hold out is rejected with BONSAI_BENCH_FSDD_SPEAKER', { skip }, async () => {
  await assert.rejects(
    runFsddExperiment({ profile: 'smoke', out: join(tmpdir(), 'bonsai-fsdd-never'), holdOutSpeaker: 'nobody', overrides: tiny, log: () => undefined }),
    { code: 'BONSAI_BENCH_FSDD_SPEAKER' },
  );
});
