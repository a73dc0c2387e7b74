/**
 * Transcripts of recordings: normalised (compatibility forms, accents stripped,
 * lower case, punctuation to spaces, one space between words), then checked
 * against the model's alphabet.
 */
import { BonsaiError } from '../../core/errors.ts';
import { ENGLISH_ALPHABET } from '../../core/text/alphabet.ts';
import { LabelErrorCode } from './codes.ts';
import { codePoint, printable } from './printable.ts';

/** Default longest transcript, in characters after normalisation. */
export const MAX_TRANSCRIPT_LENGTH = 512;

/** Options of `normalizeTranscript`. */
export interface TranscriptOptions {
  /** Longest transcript after normalisation (default 512 characters). */
  maxLength?: number;
  /** Characters a transcript may hold after normalisation (default: a-z, space, apostrophe, the DeepSpeech2 English alphabet). */
  alphabet?: readonly string[];
}

/**
 * Normalises a transcript (NFKC; typographic apostrophes to `'`; accents
 * stripped; lower case; punctuation and symbols other than `'` to spaces;
 * whitespace runs to one space; trimmed) and validates it. Throws
 * BONSAI_INGEST_TRANSCRIPT_INVALID for control or invisible format characters
 * (bidi overrides, zero-width), an empty or over-long result, or a character
 * outside the alphabet.
 */
export function normalizeTranscript(raw: string, options: TranscriptOptions = {}): string {
  const maxLength = options.maxLength ?? MAX_TRANSCRIPT_LENGTH;
  const alphabet = new Set(options.alphabet ?? ENGLISH_ALPHABET.chars);
  const text = raw.replace(/^\uFEFF/, '');
  let position = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    const control = (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') || (code >= 0x7f && code < 0xa0);
    if (control || /\p{Cf}/u.test(c)) {
      throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the transcript holds the ${control ? 'control' : 'invisible format'} character ${codePoint(c)} at position ${position}: ${printable(text)}`, { codePoint: codePoint(c), position });
    }
    position++;
  }
  const normalized = text
    .normalize('NFKC')
    .replace(/[\u2018\u2019\u02bc\u0060\u00b4]/g, "'")
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s']/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (normalized.length === 0) {
    throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the transcript ${printable(text)} is empty after normalisation`, { transcript: printable(text, 200) });
  }
  const length = [...normalized].length;
  if (length > maxLength) {
    throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the transcript has ${length} characters after normalisation, at most ${maxLength} are allowed`, { length, maxLength });
  }
  position = 0;
  for (const c of normalized) {
    if (!alphabet.has(c)) {
      const hint = /\p{N}/u.test(c) ? ' (spell numbers out)' : '';
      throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the transcript holds ${JSON.stringify(c)} (${codePoint(c)}) at position ${position}, outside the alphabet ${JSON.stringify([...alphabet].join(''))}${hint}: ${printable(normalized)}`, { char: c, codePoint: codePoint(c), position });
    }
    position++;
  }
  return normalized;
}
