/**
 * CTC prefix beam search in log space, without a language model (Graves et al.
 * 2006, section 3.2 "prefix search decoding"; the beam form of Hannun et al.,
 * "First-Pass Large Vocabulary Continuous Speech Recognition using Bi-Directional
 * Recurrent DNNs", 2014, algorithm 1, with alpha = beta = 0).
 *
 * Each prefix keeps two probabilities: of the paths so far that end in a blank
 * (pb) and that end in its last label (pnb). A label equal to the last one extends
 * the prefix only after a blank; otherwise it merges into the same prefix. Many
 * paths collapse to one prefix, so the search ranks labellings, not paths, and
 * finds labellings that greedy decoding misses. With a lexicon, a prefix may only
 * spell known words separated by the delimiter.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import { logAdd, readFrames, type CtcHypothesis, type UtteranceFrames } from './frames.ts';
import type { Lexicon, LexiconNode } from './lexicon.ts';

/** Options of `prefixBeamSearch`. */
export interface PrefixBeamSearchOptions {
  /** Number of prefixes kept after each frame (>= 1). */
  beamWidth: number;
  /** Class id of the CTC blank. Default 0. */
  blank?: number;
  /** When given, results are sequences of its words joined by its delimiter. */
  lexicon?: Lexicon;
}

/** The best labelling of one utterance and the other complete beams, best first. */
export interface BeamSearchResult extends CtcHypothesis {
  /** All complete beams at the last frame, best first (the first is the result itself). */
  beams: CtcHypothesis[];
}

interface Prefix {
  ids: number[];
  key: string;
  /** log P(prefix, path so far ends in blank). */
  pb: number;
  /** log P(prefix, path so far ends in the prefix's last label). */
  pnb: number;
  /** Position in the lexicon trie of the word being spelled (the root between words); null without a lexicon. */
  node: LexiconNode | null;
}

/**
 * Decodes each utterance of `outputs` ([batch, time, classes], log-probabilities
 * or logits) over its first `lengths[b]` frames. Ties are broken by prefix order,
 * so results are deterministic.
 */
export function prefixBeamSearch(outputs: tf.Tensor3D, lengths: readonly number[], options: PrefixBeamSearchOptions): BeamSearchResult[] {
  const blank = options.blank ?? 0;
  const { beamWidth, lexicon } = options;
  if (!Number.isInteger(beamWidth) || beamWidth < 1) {
    throw new BonsaiError('BONSAI_CORE_DECODE_BEAM_WIDTH', `decode: beam width ${beamWidth} is not an integer >= 1`, { beamWidth });
  }
  const frames = readFrames(outputs, lengths, blank);
  if (lexicon && (lexicon.delimiter < 0 || lexicon.delimiter >= outputs.shape[2] || lexicon.delimiter === blank)) {
    throw new BonsaiError('BONSAI_CORE_DECODE_LEXICON', `decode: lexicon delimiter ${lexicon.delimiter} is not a non-blank class id in 0..${outputs.shape[2] - 1}`, { delimiter: lexicon.delimiter, classes: outputs.shape[2], blank });
  }
  return frames.map((f) => searchUtterance(f, beamWidth, blank, lexicon ?? null));
}

const total = (p: Prefix): number => logAdd(p.pb, p.pnb);

/** Best first; equal scores ordered by key, for determinism. */
const byScore = (a: Prefix, b: Prefix): number => total(b) - total(a) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

function searchUtterance({ logProbs, length, classes }: UtteranceFrames, beamWidth: number, blank: number, lexicon: Lexicon | null): BeamSearchResult {
  let beam: Prefix[] = [{ ids: [], key: '', pb: 0, pnb: -Infinity, node: lexicon ? lexicon.root : null }];
  // Every candidate of the previous frame, before pruning: a prefix that fell out
  // of the beam still contributes its own continuation when it is re-created.
  let previous = new Map<string, Prefix>(beam.map((p) => [p.key, p]));

  for (let t = 0; t < length; t++) {
    const row = t * classes;
    const next = new Map<string, Prefix>();
    const inBeam = new Set(beam.map((p) => p.key));
    const entry = (ids: number[], key: string, node: LexiconNode | null): Prefix => {
      let p = next.get(key);
      if (!p) {
        p = { ids, key, pb: -Infinity, pnb: -Infinity, node };
        next.set(key, p);
        const old = inBeam.has(key) ? undefined : previous.get(key);
        if (old) {
          // Paths of the pruned prefix itself: stay on a blank, or repeat its last label.
          p.pb = logAdd(old.pb, old.pnb) + logProbs[row + blank];
          if (ids.length > 0) p.pnb = old.pnb + logProbs[row + ids[ids.length - 1]];
        }
      }
      return p;
    };

    for (const prefix of beam) {
      const score = total(prefix);
      const same = entry(prefix.ids, prefix.key, prefix.node);
      same.pb = logAdd(same.pb, score + logProbs[row + blank]);
      const last = prefix.ids.length > 0 ? prefix.ids[prefix.ids.length - 1] : -1;
      for (let c = 0; c < classes; c++) {
        const lp = logProbs[row + c];
        if (c === blank || lp === -Infinity) continue;
        if (c === last) same.pnb = logAdd(same.pnb, prefix.pnb + lp);
        const node = lexicon ? advance(lexicon, prefix.node!, c) : null;
        if (lexicon && node === null) continue;
        const extended = entry([...prefix.ids, c], prefix.key === '' ? String(c) : `${prefix.key},${c}`, node);
        // After the same label, only a path through a blank starts a new label.
        extended.pnb = logAdd(extended.pnb, (c === last ? prefix.pb : score) + lp);
      }
    }
    previous = next;
    beam = [...next.values()].filter((p) => total(p) > -Infinity).sort(byScore).slice(0, beamWidth);
  }

  const complete = beam.filter((p) => !lexicon || p.node === lexicon.root || p.node!.isWord);
  if (complete.length === 0) {
    // Every kept prefix ends inside a word: fall back to the empty labelling,
    // whose probability is that of the all-blank path.
    let logProb = 0;
    for (let t = 0; t < length; t++) logProb += logProbs[t * classes + blank];
    return { ids: [], logProb, beams: [{ ids: [], logProb }] };
  }
  const beams = complete.map((p) => ({ ids: p.ids, logProb: total(p) }));
  return { ...beams[0], beams };
}

/** The trie node after appending class `c`, or null when no word continues that way. */
function advance(lexicon: Lexicon, node: LexiconNode, c: number): LexiconNode | null {
  if (c === lexicon.delimiter) return node !== lexicon.root && node.isWord ? lexicon.root : null;
  return node.children.get(c) ?? null;
}
