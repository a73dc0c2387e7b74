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
  /**
   * Labels whose log-probability in a frame is below this are not tried as
   * extensions in that frame (a speed-up for peaked outputs; ctcdecode's
   * `cutoff_prob` in spirit). Default -Infinity: exact within the beam.
   */
  cutoffLogProb?: number;
}

/** The best labelling of one utterance and the other complete beams, best first. */
export interface BeamSearchResult extends CtcHypothesis {
  /** All complete beams at the last frame, best first (the first is the result itself). */
  beams: CtcHypothesis[];
}

/**
 * A prefix is a node of a tree of prefixes (its parent is the prefix without its
 * last label), so that extending one is a map lookup rather than a copy.
 */
interface Prefix {
  parent: Prefix | null;
  /** Last label (-1 for the empty prefix). */
  label: number;
  /** Extensions by label, created when the prefix is first extended. */
  children: Map<number, Prefix> | null;
  /** Creation order, to break ties deterministically. */
  order: number;
  /** log P(prefix, paths up to frame `scoredAt` end in a blank). */
  pb: number;
  /** log P(prefix, paths up to frame `scoredAt` end in the prefix's last label). */
  pnb: number;
  scoredAt: number;
  /** logAdd(pb, pnb): log P(prefix) up to frame `scoredAt`. */
  total: number;
  /** pb and pnb of the frame being computed, valid when `touchedAt` is that frame. */
  nextPb: number;
  nextPnb: number;
  touchedAt: number;
  /** Whether the prefix is in the beam the current frame extends. */
  inBeam: boolean;
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
  const cutoff = options.cutoffLogProb ?? -Infinity;
  return frames.map((f) => searchUtterance(f, beamWidth, blank, lexicon ?? null, cutoff));
}

/** Best first; equal scores in creation order, for determinism. */
const byScore = (a: Prefix, b: Prefix): number => b.total - a.total || a.order - b.order;

function idsOf(prefix: Prefix): number[] {
  const ids: number[] = [];
  for (let p: Prefix | null = prefix; p !== null && p.parent !== null; p = p.parent) ids.push(p.label);
  return ids.reverse();
}

function searchUtterance({ logProbs, length, classes }: UtteranceFrames, beamWidth: number, blank: number, lexicon: Lexicon | null, cutoff: number): BeamSearchResult {
  let created = 0;
  const make = (parent: Prefix | null, label: number, node: LexiconNode | null): Prefix => ({
    parent, label, children: null, order: created++, pb: -Infinity, pnb: -Infinity, scoredAt: -2, total: -Infinity,
    nextPb: -Infinity, nextPnb: -Infinity, touchedAt: -2, inBeam: false, node,
  });
  const empty = make(null, -1, lexicon ? lexicon.root : null);
  empty.pb = 0;
  empty.total = 0;
  empty.scoredAt = -1;
  empty.inBeam = true;
  let beam: Prefix[] = [empty];
  let previousCandidates: Prefix[] = [];

  for (let t = 0; t < length; t++) {
    const row = t * classes;
    const candidates: Prefix[] = [];
    const touch = (p: Prefix): Prefix => {
      if (p.touchedAt === t) return p;
      p.touchedAt = t;
      p.nextPb = -Infinity;
      p.nextPnb = -Infinity;
      if (!p.inBeam && p.scoredAt === t - 1) {
        // A candidate of the previous frame that fell out of the beam keeps its
        // own continuation when it is re-created: a blank, or its last label again.
        p.nextPb = p.total + logProbs[row + blank];
        p.nextPnb = p.pnb + logProbs[row + p.label];
      }
      candidates.push(p);
      return p;
    };

    // pb and pnb still hold the previous frame while next* are accumulated.
    for (const prefix of beam) {
      const total = prefix.total;
      touch(prefix);
      const children = prefix.children ?? (prefix.children = new Map());
      prefix.nextPb = logAdd(prefix.nextPb, total + logProbs[row + blank]);
      for (let c = 0; c < classes; c++) {
        const lp = logProbs[row + c];
        if (c === blank || lp === -Infinity || lp < cutoff) continue;
        if (c === prefix.label) prefix.nextPnb = logAdd(prefix.nextPnb, prefix.pnb + lp);
        let child = children.get(c);
        if (child === undefined) {
          const node = lexicon ? advance(lexicon, prefix.node!, c) : null;
          if (lexicon && node === null) continue;
          child = make(prefix, c, node);
          children.set(c, child);
        }
        touch(child);
        // After the same label, only a path through a blank starts a new label.
        child.nextPnb = logAdd(child.nextPnb, (c === prefix.label ? prefix.pb : total) + lp);
      }
    }
    for (const p of beam) p.inBeam = false;
    for (const p of candidates) { p.pb = p.nextPb; p.pnb = p.nextPnb; p.total = logAdd(p.pb, p.pnb); p.scoredAt = t; }
    beam = candidates.filter((p) => p.total > -Infinity).sort(byScore).slice(0, beamWidth);
    for (const p of beam) p.inBeam = true;
    // Candidates of the previous frame that were neither kept nor re-created can
    // no longer contribute: unlink the childless ones so the prefix tree stays small.
    for (const p of previousCandidates) {
      if (p.scoredAt === t - 1 && p.parent !== null && (p.children === null || p.children.size === 0)) p.parent.children!.delete(p.label);
    }
    previousCandidates = candidates;
  }

  const complete = beam.filter((p) => !lexicon || p.node === lexicon.root || p.node!.isWord);
  if (complete.length === 0) {
    // Every kept prefix ends inside a word: fall back to the empty labelling,
    // whose probability is that of the all-blank path.
    let logProb = 0;
    for (let t = 0; t < length; t++) logProb += logProbs[t * classes + blank];
    return { ids: [], logProb, beams: [{ ids: [], logProb }] };
  }
  const beams = complete.map((p) => ({ ids: idsOf(p), logProb: p.total }));
  return { ...beams[0], beams };
}

/** The trie node after appending class `c`, or null when no word continues that way. */
function advance(lexicon: Lexicon, node: LexiconNode, c: number): LexiconNode | null {
  if (c === lexicon.delimiter) return node !== lexicon.root && node.isWord ? lexicon.root : null;
  return node.children.get(c) ?? null;
}
