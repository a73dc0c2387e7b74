/**
 * Character alphabets for CTC speech recognition (paper section 5.3: DeepSpeech2
 * with a CTC output layer). Index 0 is the CTC blank; characters follow from 1.
 */
import { BonsaiError } from '../errors.ts';

/** Index of the CTC blank in every alphabet built here. */
export const BLANK = 0;

/** A bijection between characters and class ids, with the blank at id 0. */
export interface Alphabet {
  /** The characters in id order; `chars[i]` has id `i + 1`. */
  readonly chars: readonly string[];
  /** Number of classes, blank included (`chars.length + 1`): the width of the output layer. */
  readonly size: number;
  /** Id of the CTC blank (always 0). */
  readonly blank: number;
  /** Id of the word delimiter (space), or -1 when the alphabet has none. */
  readonly space: number;
  /** Text to ids; throws `BONSAI_CORE_TEXT_UNKNOWN_CHAR` for a character outside the alphabet. */
  encode(text: string): number[];
  /** Ids to text; throws `BONSAI_CORE_TEXT_UNKNOWN_ID` for the blank or an id outside the alphabet. */
  decode(ids: readonly number[]): string;
}

/**
 * Builds an alphabet from distinct single characters (UTF-16 code units are not
 * assumed: each entry must be one code point).
 */
export function createAlphabet(chars: readonly string[]): Alphabet {
  const index = new Map<string, number>();
  chars.forEach((c, i) => {
    if ([...c].length !== 1) {
      throw new BonsaiError('BONSAI_CORE_TEXT_ALPHABET', `alphabet entry ${i} is ${JSON.stringify(c)}, not one character`, { index: i, entry: c });
    }
    if (index.has(c)) {
      throw new BonsaiError('BONSAI_CORE_TEXT_ALPHABET', `alphabet entry ${i} ${JSON.stringify(c)} repeats entry ${index.get(c)! - 1}`, { index: i, entry: c });
    }
    index.set(c, i + 1);
  });
  const frozen = Object.freeze([...chars]);
  return Object.freeze({
    chars: frozen,
    size: frozen.length + 1,
    blank: BLANK,
    space: index.get(' ') ?? -1,
    encode(text: string): number[] {
      const ids: number[] = [];
      let position = 0;
      for (const c of text) {
        const id = index.get(c);
        if (id === undefined) {
          const codePoint = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
          throw new BonsaiError(
            'BONSAI_CORE_TEXT_UNKNOWN_CHAR',
            `character ${JSON.stringify(c)} (${codePoint}) at position ${position} of ${JSON.stringify(text)} is not in the alphabet ${JSON.stringify(frozen.join(''))}`,
            { char: c, codePoint, position, text },
          );
        }
        ids.push(id);
        position++;
      }
      return ids;
    },
    decode(ids: readonly number[]): string {
      return ids.map((id, position) => {
        if (!Number.isInteger(id) || id < 1 || id > frozen.length) {
          throw new BonsaiError(
            'BONSAI_CORE_TEXT_UNKNOWN_ID',
            `id ${id} at position ${position} is not a character of the alphabet (valid ids 1..${frozen.length}; ${BLANK} is the blank)`,
            { id, position, size: frozen.length + 1 },
          );
        }
        return frozen[id - 1];
      }).join('');
    },
  });
}

/** Lowercase a-z, space, apostrophe: 29 classes with the blank (DeepSpeech2's English alphabet). */
export const ENGLISH_ALPHABET: Alphabet = createAlphabet([...'abcdefghijklmnopqrstuvwxyz', ' ', "'"]);

/**
 * Brings a transcript into the form the English alphabet encodes: lowercase,
 * typographic apostrophes to `'`, runs of whitespace to one space, trimmed.
 * Characters still outside the alphabet (digits, punctuation) are left for
 * `encode` to reject, so that a transcript is never silently altered in meaning.
 */
export function normalizeTranscript(text: string): string {
  return text.normalize('NFC').toLowerCase().replace(/[\u2018\u2019\u02bc]/g, "'").replace(/\s+/g, ' ').trim();
}
