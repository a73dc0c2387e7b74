import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGLISH_ALPHABET, createAlphabet, normalizeTranscript } from '../../core/text/alphabet.ts';
import { BonsaiError } from '../../core/errors.ts';

test('the English alphabet has 29 classes with the blank at 0', () => {
  assert.equal(ENGLISH_ALPHABET.size, 29);
  assert.equal(ENGLISH_ALPHABET.blank, 0);
  assert.equal(ENGLISH_ALPHABET.space, 27);
  assert.deepEqual(ENGLISH_ALPHABET.encode("a z'"), [1, 27, 26, 28]);
  assert.equal(ENGLISH_ALPHABET.decode([15, 14, 5, 27, 20, 23, 15]), 'one two');
  const text = "don't stop believing";
  assert.equal(ENGLISH_ALPHABET.decode(ENGLISH_ALPHABET.encode(text)), text);
  assert.deepEqual(ENGLISH_ALPHABET.encode(''), []);
});

test('encode rejects characters outside the alphabet with their position and code point', () => {
  assert.throws(
    () => ENGLISH_ALPHABET.encode('seven 7'),
    (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_TEXT_UNKNOWN_CHAR'
      && e.details.char === '7' && e.details.position === 6 && e.details.codePoint === 'U+0037',
  );
  // Positions count code points, not UTF-16 units.
  assert.throws(() => ENGLISH_ALPHABET.encode('a\u{1F600}b!'), (e: unknown) => e instanceof BonsaiError && e.details.position === 1);
  assert.throws(() => ENGLISH_ALPHABET.encode('One'), (e: unknown) => e instanceof BonsaiError && e.details.char === 'O');
});

test('decode rejects the blank and unknown ids', () => {
  for (const id of [0, 29, -1, 1.5]) {
    assert.throws(() => ENGLISH_ALPHABET.decode([1, id]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_TEXT_UNKNOWN_ID' && e.details.position === 1);
  }
});

test('createAlphabet rejects repeated or multi-character entries', () => {
  assert.throws(() => createAlphabet(['a', 'b', 'a']), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_TEXT_ALPHABET' && e.details.index === 2);
  assert.throws(() => createAlphabet(['ab']), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_TEXT_ALPHABET');
  const digits = createAlphabet([...'0123456789']);
  assert.equal(digits.space, -1);
  assert.deepEqual(digits.encode('907'), [10, 1, 8]);
});

test('normalizeTranscript lowercases, unifies apostrophes and whitespace, keeps other characters', () => {
  assert.equal(normalizeTranscript('  Don\u2019t\tSTOP \n now '), "don't stop now");
  assert.equal(normalizeTranscript('Seven 7'), 'seven 7');
});
