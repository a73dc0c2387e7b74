import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorRateCounter, characterErrorRate, characters, editCounts, wordErrorRate, words } from '../../core/metrics/error-rates.ts';
import { BonsaiError } from '../../core/errors.ts';

test('WER counts a substitution and a deletion by hand', () => {
  // the cat sat on the mat / the cat sit on mat: sat->sit (S), second "the" missing (D).
  const r = wordErrorRate('the cat sat on the mat', 'the cat sit on mat');
  assert.deepEqual(r, { hits: 4, substitutions: 1, deletions: 1, insertions: 0, edits: 2, rate: 2 / 6, referenceLength: 6, utterances: 1 });
});

test('WER counts insertions and can exceed 1', () => {
  assert.deepEqual(
    { ...wordErrorRate('one two', 'one one two') },
    { hits: 2, substitutions: 0, deletions: 0, insertions: 1, edits: 1, rate: 0.5, referenceLength: 2, utterances: 1 },
  );
  const r = wordErrorRate('a', 'b c d');
  assert.equal(r.substitutions + r.insertions, 3);
  assert.equal(r.insertions, 2);
  assert.equal(r.rate, 3);
  assert.equal(wordErrorRate('one two three', '').deletions, 3);
  assert.equal(wordErrorRate('one two three', '').rate, 1);
  assert.equal(wordErrorRate('  one   two\t', 'one two').rate, 0);
});

test('corpus WER is total edits over total reference words, not a mean of ratios', () => {
  const r = wordErrorRate(['one', 'one two three four'], ['two', 'one two three four']);
  assert.equal(r.edits, 1);
  assert.equal(r.referenceLength, 5);
  assert.equal(r.rate, 0.2); // a mean of ratios would say (1 + 0) / 2 = 0.5
  assert.equal(r.utterances, 2);
  // An empty reference in a corpus contributes its insertions.
  const e = wordErrorRate(['', 'a b'], ['x', 'a b']);
  assert.equal(e.insertions, 1);
  assert.equal(e.rate, 0.5);
});

test('CER by hand: kitten -> sitting, and spaces are characters', () => {
  const r = characterErrorRate('kitten', 'sitting');
  assert.deepEqual([r.substitutions, r.deletions, r.insertions, r.hits, r.rate], [2, 0, 1, 4, 3 / 6]);
  const s = characterErrorRate('ab c', 'abc');
  assert.deepEqual([s.deletions, s.edits, s.referenceLength], [1, 1, 4]);
  assert.equal(characterErrorRate(['ab', 'cd'], ['ab', 'xd']).rate, 1 / 4);
  assert.deepEqual(characters('  a  b '), ['a', ' ', 'b']);
  assert.deepEqual(words(' a  b\nc '), ['a', 'b', 'c']);
});

test('editCounts agrees with a recursive Levenshtein distance and the alignment identities', () => {
  const distance = (a: number[], b: number[]): number => {
    const memo = new Map<string, number>();
    const go = (i: number, j: number): number => {
      if (i === 0) return j;
      if (j === 0) return i;
      const key = `${i},${j}`;
      if (!memo.has(key)) memo.set(key, Math.min(go(i - 1, j) + 1, go(i, j - 1) + 1, go(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1)));
      return memo.get(key)!;
    };
    return go(a.length, b.length);
  };
  let seed = 5;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor(seed / 2147483648 * n); };
  for (let trial = 0; trial < 200; trial++) {
    const a = Array.from({ length: rand(7) }, () => rand(3));
    const b = Array.from({ length: rand(7) }, () => rand(3));
    const c = editCounts(a, b);
    assert.equal(c.substitutions + c.deletions + c.insertions, distance(a, b), `${a} vs ${b}`);
    assert.equal(c.hits + c.substitutions + c.deletions, a.length);
    assert.equal(c.hits + c.substitutions + c.insertions, b.length);
  }
  assert.deepEqual(editCounts([1, 2, 3], [1, 3]), { hits: 2, substitutions: 0, deletions: 1, insertions: 0 });
});

test('ErrorRateCounter accumulates like the corpus functions', () => {
  const counter = new ErrorRateCounter(words);
  assert.deepEqual(counter.add('one two', 'one'), { hits: 1, substitutions: 0, deletions: 1, insertions: 0 });
  counter.add('three', 'three four');
  assert.deepEqual(counter.result(), wordErrorRate(['one two', 'three'], ['one', 'three four']));
  assert.equal(counter.result().rate, 2 / 3);
});

test('error rates reject mismatched lists and corpora without reference tokens', () => {
  assert.throws(() => wordErrorRate(['a', 'b'], ['a']), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_METRICS_LENGTH_MISMATCH' && e.details.hypotheses === 1);
  assert.throws(() => wordErrorRate([' '], ['x']), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_METRICS_EMPTY_REFERENCE' && e.details.edits === 1);
  assert.throws(() => new ErrorRateCounter(characters).result(), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_METRICS_EMPTY_REFERENCE');
});
