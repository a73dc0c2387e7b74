/**
 * A lexicon of allowed words as a trie over class ids, to restrict CTC beam
 * search to sequences of known words (the spoken-digit task has ten).
 */
import { BonsaiError } from '../errors.ts';
import type { Alphabet } from '../text/alphabet.ts';

/** A trie node: one edge per next class id; `isWord` when the path from the root spells a word. */
export interface LexiconNode {
  readonly children: ReadonlyMap<number, LexiconNode>;
  readonly isWord: boolean;
}

/** Allowed words and the class id that separates them. */
export interface Lexicon {
  readonly root: LexiconNode;
  /** Class id of the word delimiter (the space). */
  readonly delimiter: number;
  /** Number of distinct words. */
  readonly size: number;
}

interface MutableNode { children: Map<number, MutableNode>; isWord: boolean }

/** Builds a lexicon from words given as class-id sequences. */
export function createLexiconFromIds(words: readonly (readonly number[])[], delimiter: number, blank = 0): Lexicon {
  if (!Number.isInteger(delimiter) || delimiter === blank) {
    throw new BonsaiError('BONSAI_CORE_DECODE_LEXICON', `lexicon: delimiter ${delimiter} must be an integer class id other than the blank ${blank}`, { delimiter, blank });
  }
  const root: MutableNode = { children: new Map(), isWord: false };
  let size = 0;
  words.forEach((word, index) => {
    if (word.length === 0 || word.some((id) => !Number.isInteger(id) || id < 0 || id === blank || id === delimiter)) {
      throw new BonsaiError(
        'BONSAI_CORE_DECODE_LEXICON',
        `lexicon: word ${index} ${JSON.stringify(word)} must be non-empty class ids without the blank ${blank} or the delimiter ${delimiter}`,
        { index, word: [...word], blank, delimiter },
      );
    }
    let node = root;
    for (const id of word) {
      let child = node.children.get(id);
      if (!child) { child = { children: new Map(), isWord: false }; node.children.set(id, child); }
      node = child;
    }
    if (!node.isWord) size++;
    node.isWord = true;
  });
  return { root, delimiter, size };
}

/** Builds a lexicon from words spelled in `alphabet`, whose space is the delimiter. */
export function createLexicon(words: readonly string[], alphabet: Alphabet): Lexicon {
  if (alphabet.space < 0) {
    throw new BonsaiError('BONSAI_CORE_DECODE_LEXICON', 'lexicon: the alphabet has no space to delimit words', { chars: alphabet.chars.join('') });
  }
  return createLexiconFromIds(words.map((w) => alphabet.encode(w)), alphabet.space, alphabet.blank);
}
