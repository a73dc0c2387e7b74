/** Prequential scoring: arrivals are predicted by the live model before any update trains on them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../pipelines/store/index.ts';
import { PrequentialWindow } from '../../daemon/metrics/index.ts';
import { ModelHolder, type LoadedModel } from '../../daemon/serving/index.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { PrequentialScorer } from '../../daemon/prequential-scorer.ts';
import { tempStateDir } from './e2e-helpers.ts';

/** A model over 2 features that predicts class `round(x0) mod 2` of labels ['even', 'odd']. */
function parity(version: number): LoadedModel {
  return {
    version, labels: ['even', 'odd'], inputShape: [2], modality: 'image',
    async predict(batch, n) {
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) out[i * 2 + (Math.round(batch[i * 2]) % 2)] = 1;
      return out;
    },
    async warmUp() {},
    dispose() {},
  };
}

test('each arrival is scored once by the live model; unknown classes count as misses; no model, no score', async () => {
  const stateDir = tempStateDir();
  const store = openStore(join(stateDir, 'store.db'));
  const holder = new ModelHolder({ loader: async (v) => parity(v) });
  const window = new PrequentialWindow(100);
  const scorer = new PrequentialScorer({ holder, store, window, log: new MemoryLog(), batchSize: 3 });
  const add = (name: string, x0: number, label: string): string => {
    const id = createHash('sha256').update(name).digest('hex');
    store.addSample(id, { modality: 'image', features: Float32Array.of(x0, 0), shape: [2] }, { label }, name);
    return id;
  };
  try {
    // No model yet: nothing scored.
    scorer.add([add('a', 1, 'odd')]);
    await scorer.drain();
    assert.deepEqual(scorer.counts, { scored: 0, skipped: 1 });
    assert.equal(window.accuracy(), null);

    await holder.swapTo(1);
    // 4 right (2 even, 2 odd), 2 wrong, 1 of a class the model does not know (wrong), 1 of another shape (skipped).
    const ids = [add('b', 2, 'even'), add('c', 4, 'even'), add('d', 3, 'odd'), add('e', 5, 'odd'), add('f', 6, 'odd'), add('g', 7, 'even'), add('h', 9, 'prime')];
    const other = createHash('sha256').update('i').digest('hex');
    store.addSample(other, { modality: 'image', features: Float32Array.of(1, 2, 3), shape: [3] }, { label: 'odd' }, 'i');
    scorer.add(ids);
    scorer.add([other]);
    await scorer.drain();
    assert.deepEqual(scorer.counts, { scored: 7, skipped: 2 });
    assert.equal(window.count, 7);
    assert.equal(window.accuracy(), 4 / 7);
  } finally {
    await holder.close();
    store.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
});
