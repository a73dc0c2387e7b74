/** CTC decoders: best path, prefix beam search, and the lexicon that can restrict it. */
export { greedyDecode, type GreedyDecodeOptions } from './greedy.ts';
export { prefixBeamSearch, type PrefixBeamSearchOptions, type BeamSearchResult } from './beam.ts';
export { createLexicon, createLexiconFromIds, type Lexicon, type LexiconNode } from './lexicon.ts';
export type { CtcHypothesis } from './frames.ts';
