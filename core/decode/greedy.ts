/**
 * Best-path (greedy) CTC decoding (Graves et al. 2006, section 3.2): the most
 * probable class of every frame, repeats merged, blanks dropped. Fast, but it
 * finds the most probable path, not the most probable labelling.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { readFrames, type CtcHypothesis } from './frames.ts';

/** Options of `greedyDecode`. */
export interface GreedyDecodeOptions {
  /** Class id of the CTC blank. Default 0. */
  blank?: number;
}

/**
 * Decodes each utterance of `outputs` ([batch, time, classes], log-probabilities
 * or logits) over its first `lengths[b]` frames. Ties go to the lowest class id.
 */
export function greedyDecode(outputs: tf.Tensor3D, lengths: readonly number[], options: GreedyDecodeOptions = {}): CtcHypothesis[] {
  const blank = options.blank ?? 0;
  return readFrames(outputs, lengths, blank).map(({ logProbs, length, classes }) => {
    const ids: number[] = [];
    let logProb = 0;
    let previous = -1;
    for (let t = 0; t < length; t++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (logProbs[t * classes + k] > logProbs[t * classes + best]) best = k;
      logProb += logProbs[t * classes + best];
      if (best !== blank && best !== previous) ids.push(best);
      previous = best;
    }
    return { ids, logProb };
  });
}
