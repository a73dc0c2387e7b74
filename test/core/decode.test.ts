import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { greedyDecode, prefixBeamSearch, createLexicon, createLexiconFromIds } from '../../core/decode/index.ts';
import { ctcLoss } from '../../core/losses/ctc.ts';
import { ENGLISH_ALPHABET } from '../../core/text/alphabet.ts';
import { BonsaiError } from '../../core/errors.ts';
import { noLeaks } from '../helpers/tensors.ts';

await tf.setBackend('cpu');

/** [batch, time, classes] log-probabilities from per-frame probabilities. */
function logTensor(probs: number[][][]): tf.Tensor3D {
  return tf.tensor3d(probs.map((u) => u.map((f) => f.map(Math.log))));
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

/** Brute force: the probability of every labelling, summed over all paths of `frames` (probabilities). */
function labellingProbabilities(frames: number[][], blank = 0): Map<string, number> {
  const classes = frames[0].length;
  const out = new Map<string, number>();
  for (let n = 0; n < classes ** frames.length; n++) {
    let rest = n;
    let prob = 1;
    const path: number[] = [];
    for (let t = 0; t < frames.length; t++) { const k = rest % classes; rest = Math.floor(rest / classes); path.push(k); prob *= frames[t][k]; }
    const key = path.filter((k, t) => k !== blank && (t === 0 || path[t - 1] !== k)).join(',');
    out.set(key, (out.get(key) ?? 0) + prob);
  }
  return out;
}

test('greedyDecode merges repeats, drops blanks, honours lengths and sums the best path', async () => {
  await noLeaks(() => {
    // Best classes per frame: 1 1 0 1 2 2 0 | 2 0 2 (second item, length 3 of 7).
    const best = [[1, 1, 0, 1, 2, 2, 0], [2, 0, 2, 1, 1, 1, 1]];
    const probs = best.map((u) => u.map((k) => [0, 1, 2].map((c) => (c === k ? 0.8 : 0.1))));
    const x = logTensor(probs);
    const out = greedyDecode(x, [7, 3]);
    assert.deepEqual(out.map((h) => h.ids), [[1, 1, 2], [2, 2]]);
    assertClose(out[0].logProb, 7 * Math.log(0.8), 1e-6, 'best path log-prob');
    assertClose(out[1].logProb, 3 * Math.log(0.8), 1e-6, 'best path log-prob, length 3');
    assert.deepEqual(greedyDecode(x, [0, 1]).map((h) => h.ids), [[], [2]]);
    // Logits give the same ids: decoders normalise each frame first.
    const logits = tf.add(x, 5) as tf.Tensor3D;
    const fromLogits = greedyDecode(logits, [7, 3]);
    assert.deepEqual(fromLogits.map((h) => h.ids), [[1, 1, 2], [2, 2]]);
    assertClose(fromLogits[0].logProb, out[0].logProb, 1e-5, 'logits normalised');
    // A different blank id.
    assert.deepEqual(greedyDecode(x, [7, 3], { blank: 2 }).map((h) => h.ids), [[1, 0, 1, 0], [0]]);
    tf.dispose([x, logits]);
  });
});

test('prefix beam search finds the most probable labelling where the best path is wrong', async () => {
  await noLeaks(() => {
    // Two frames, classes blank and 'a', each frame P(blank) = 0.6, P(a) = 0.4.
    // Best path: blank blank -> "" with 0.36. But "a" has paths aa, a-, -a: 0.16 + 0.24 + 0.24 = 0.64.
    const x = logTensor([[[0.6, 0.4], [0.6, 0.4]]]);
    const [greedy] = greedyDecode(x, [2]);
    assert.deepEqual(greedy.ids, []);
    assertClose(greedy.logProb, Math.log(0.36), 1e-6, 'greedy');
    const [beam] = prefixBeamSearch(x, [2], { beamWidth: 4 });
    assert.deepEqual(beam.ids, [1]);
    assertClose(beam.logProb, Math.log(0.64), 1e-6, 'beam');
    assert.deepEqual(beam.beams.map((b) => b.ids), [[1], []]);
    assertClose(beam.beams[1].logProb, Math.log(0.36), 1e-6, 'second beam');
    x.dispose();
  });
});

test('prefix beam search with a wide beam equals brute-force labelling probabilities', async () => {
  await noLeaks(() => {
    let seed = 11;
    const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let trial = 0; trial < 6; trial++) {
      const T = 5;
      const frames = Array.from({ length: T }, () => {
        const r = [rand(), rand(), rand()].map((v) => v + 0.05);
        const z = r.reduce((a, b) => a + b, 0);
        return r.map((v) => v / z);
      });
      const x = logTensor([frames]);
      const [result] = prefixBeamSearch(x, [T], { beamWidth: 1000 });
      const reference = labellingProbabilities(frames);
      const [bestKey, bestP] = [...reference.entries()].sort((a, b) => b[1] - a[1])[0];
      assert.equal(result.ids.join(','), bestKey, `trial ${trial}`);
      assertClose(result.logProb, Math.log(bestP), 1e-6, `trial ${trial} best`);
      // Every labelling of up to T labels is a complete beam with its exact probability.
      assert.equal(result.beams.length, reference.size);
      for (const b of result.beams) assertClose(b.logProb, Math.log(reference.get(b.ids.join(','))!), 1e-6, `trial ${trial} beam ${b.ids}`);
      x.dispose();
    }
  });
});

test('prefix beam search with beam width 1 is no worse than greedy and pruning keeps order', async () => {
  await noLeaks(() => {
    const probs = [[[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]];
    const x = logTensor(probs);
    const reference = labellingProbabilities(probs[0]);
    const narrow = prefixBeamSearch(x, [4], { beamWidth: 1 })[0];
    const [greedy] = greedyDecode(x, [4]);
    assert.ok(reference.get(narrow.ids.join(','))! >= reference.get(greedy.ids.join(','))! - 1e-12);
    // A cutoff above P(label 2) in every frame but the last keeps label 2 out of all but the last position.
    const cut = prefixBeamSearch(x, [4], { beamWidth: 8, cutoffLogProb: Math.log(0.35) })[0];
    for (const b of cut.beams) assert.ok(!b.ids.slice(0, -1).includes(2), `cutoff beam ${b.ids}`);
    assert.ok(prefixBeamSearch(x, [4], { beamWidth: 8 })[0].beams.some((b) => b.ids.slice(0, -1).includes(2)));
    const wide = prefixBeamSearch(x, [4], { beamWidth: 3 })[0];
    assert.equal(wide.beams.length, 3);
    for (let i = 1; i < wide.beams.length; i++) assert.ok(wide.beams[i - 1].logProb >= wide.beams[i].logProb);
    x.dispose();
  });
});

test('a narrow beam never over-counts: each beam probability is at most its labelling probability', async () => {
  await noLeaks(() => {
    let seed = 3;
    const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let trial = 0; trial < 6; trial++) {
      const frames = Array.from({ length: 6 }, () => {
        const r = [rand(), rand(), rand()];
        const z = r.reduce((a, b) => a + b, 0);
        return r.map((v) => v / z);
      });
      const reference = labellingProbabilities(frames);
      const x = logTensor([frames]);
      const [result] = prefixBeamSearch(x, [6], { beamWidth: 2 });
      for (const b of result.beams) {
        const truth = Math.log(reference.get(b.ids.join(','))!);
        assert.ok(b.logProb <= truth + 1e-6, `trial ${trial} beam ${b.ids}: ${b.logProb} > ${truth}`);
      }
      x.dispose();
    }
  });
});

/** Frames from a spelling: each entry maps characters to probabilities, the rest goes to the blank. */
function spelled(frames: Array<Record<string, number>>): tf.Tensor3D {
  const rows = frames.map((f) => {
    const row = new Array<number>(ENGLISH_ALPHABET.size).fill(1e-4);
    let used = 0;
    for (const [ch, p] of Object.entries(f)) { row[ENGLISH_ALPHABET.encode(ch)[0]] = p; used += p; }
    row[0] = Math.max(1 - used, 1e-4);
    return row;
  });
  return logTensor([rows]);
}

test('a lexicon turns a misspelt best path into the nearest allowed word sequence', async () => {
  await noLeaks(() => {
    const lexicon = createLexicon(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'], ENGLISH_ALPHABET);
    assert.equal(lexicon.size, 10);
    // "tvo one": the middle of the first word prefers v over w.
    const x = spelled([{ t: 0.9 }, { v: 0.55, w: 0.4 }, { o: 0.9 }, { ' ': 0.9 }, { o: 0.9 }, { n: 0.6, m: 0.3 }, { e: 0.9 }]);
    const [greedy] = greedyDecode(x, [7]);
    assert.equal(ENGLISH_ALPHABET.decode(greedy.ids), 'tvo one');
    const [free] = prefixBeamSearch(x, [7], { beamWidth: 8 });
    assert.equal(ENGLISH_ALPHABET.decode(free.ids), 'tvo one');
    const [constrained] = prefixBeamSearch(x, [7], { beamWidth: 8, lexicon });
    assert.equal(ENGLISH_ALPHABET.decode(constrained.ids), 'two one');
    x.dispose();
  });
});

test('a lexicon-restricted search only ever returns words of the lexicon', async () => {
  await noLeaks(() => {
    const lexicon = createLexicon(['one', 'two', 'too'], ENGLISH_ALPHABET);
    for (let seed = 1; seed <= 5; seed++) {
      const x = tf.randomNormal([1, 12, ENGLISH_ALPHABET.size], 0, 2, 'float32', seed) as tf.Tensor3D;
      const [result] = prefixBeamSearch(x, [12], { beamWidth: 6, lexicon });
      for (const b of result.beams) {
        const words = ENGLISH_ALPHABET.decode(b.ids).split(' ').filter((w) => w.length > 0);
        assert.ok(words.every((w) => ['one', 'two', 'too'].includes(w)), `seed ${seed}: ${JSON.stringify(ENGLISH_ALPHABET.decode(b.ids))}`);
      }
      x.dispose();
    }
    // Too few frames to spell any word: the empty labelling, with the all-blank probability.
    const short = spelled([{ o: 0.9 }, { n: 0.9 }]);
    const [empty] = prefixBeamSearch(short, [2], { beamWidth: 4, lexicon });
    assert.deepEqual(empty.ids, []);
    // Each frame: blank 0.1, 'o' or 'n' 0.9, the 27 other classes 1e-4, normalised.
    assertClose(empty.logProb, 2 * Math.log(0.1 / (1 + 27e-4)), 1e-6, 'all-blank');
    short.dispose();
  });
});

test('decoders reject bad shapes, lengths, beam widths and lexicons with stable codes', async () => {
  await noLeaks(() => {
    const x = tf.zeros([1, 3, 4]) as tf.Tensor3D;
    const code = (c: string) => (e: unknown) => e instanceof BonsaiError && e.code === c;
    assert.throws(() => greedyDecode(x, [4]), code('BONSAI_CORE_DECODE_LENGTH'));
    assert.throws(() => greedyDecode(x, [1, 1]), code('BONSAI_CORE_DECODE_SHAPE'));
    assert.throws(() => greedyDecode(x, [3], { blank: 4 }), code('BONSAI_CORE_DECODE_BLANK'));
    assert.throws(() => prefixBeamSearch(x, [3], { beamWidth: 0 }), code('BONSAI_CORE_DECODE_BEAM_WIDTH'));
    assert.throws(() => prefixBeamSearch(x, [3], { beamWidth: 2, lexicon: createLexiconFromIds([[1, 2]], 7) }), code('BONSAI_CORE_DECODE_LEXICON'));
    assert.throws(() => createLexiconFromIds([[1, 3]], 3), code('BONSAI_CORE_DECODE_LEXICON'));
    assert.throws(() => createLexiconFromIds([[]], 3), code('BONSAI_CORE_DECODE_LEXICON'));
    assert.throws(() => createLexicon(['seven7'], ENGLISH_ALPHABET), code('BONSAI_CORE_TEXT_UNKNOWN_CHAR'));
    const nan = tf.tensor3d([[[0, NaN]]]);
    assert.throws(() => greedyDecode(nan, [1]), code('BONSAI_CORE_DECODE_NON_FINITE'));
    tf.dispose([x, nan]);
  });
});

test('training logits with ctcLoss and SGD makes both decoders read out the label', async () => {
  await noLeaks(() => {
    const label = ENGLISH_ALPHABET.encode('too');
    const init = tf.randomNormal([1, 8, ENGLISH_ALPHABET.size], 0, 0.1, 'float32', 5);
    const logits = tf.variable(init);
    init.dispose();
    const optimizer = tf.train.sgd(1);
    const first = tf.tidy(() => ctcLoss(logits as tf.Variable<tf.Rank.R3>, [label], [8]).dataSync()[0]);
    let last = first;
    for (let step = 0; step < 60; step++) {
      const loss = optimizer.minimize(() => ctcLoss(logits as tf.Variable<tf.Rank.R3>, [label], [8]), true)!;
      last = loss.dataSync()[0];
      loss.dispose();
    }
    assert.ok(last < first / 10, `loss ${first} -> ${last}`);
    assert.equal(ENGLISH_ALPHABET.decode(greedyDecode(logits as tf.Variable<tf.Rank.R3>, [8])[0].ids), 'too');
    assert.equal(ENGLISH_ALPHABET.decode(prefixBeamSearch(logits as tf.Variable<tf.Rank.R3>, [8], { beamWidth: 4 })[0].ids), 'too');
    optimizer.dispose();
    logits.dispose();
  });
});
