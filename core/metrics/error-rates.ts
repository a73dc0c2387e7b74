/**
 * Word and character error rates, the accuracy measure of the speech experiment
 * (paper section 5.3, Table 7 reports WER). Edits are counted by Levenshtein
 * distance (substitutions, deletions, insertions, each of cost 1) and aggregated
 * over a corpus as total edits / total reference tokens, as NIST sclite and jiwer
 * do, not as a mean of per-utterance ratios: long utterances weigh more.
 *
 * Texts are compared as given (no lowercasing): normalise both sides first,
 * e.g. with `normalizeTranscript`. Words are the runs of non-whitespace;
 * characters are code points after trimming and collapsing runs of whitespace
 * to one space, spaces included.
 */
import { BonsaiError } from '../errors.ts';

/** Edit operations of one minimal alignment of a hypothesis to a reference. */
export interface EditCounts {
  /** Reference tokens matched exactly. */
  hits: number;
  substitutions: number;
  /** Reference tokens missing from the hypothesis. */
  deletions: number;
  /** Hypothesis tokens absent from the reference. */
  insertions: number;
}

/** Corpus-level error rate with its parts. */
export interface ErrorRate extends EditCounts {
  /** (substitutions + deletions + insertions) / referenceLength; may exceed 1. */
  rate: number;
  /** substitutions + deletions + insertions: the summed Levenshtein distances. */
  edits: number;
  /** Total number of reference tokens. */
  referenceLength: number;
  /** Number of reference/hypothesis pairs. */
  utterances: number;
}

/**
 * Levenshtein alignment of `hypothesis` to `reference`. Among minimal alignments,
 * the one reported prefers, walking back from the end, a match or substitution,
 * then a deletion, then an insertion (the usual sclite/jiwer convention).
 */
export function editCounts<T>(reference: readonly T[], hypothesis: readonly T[]): EditCounts {
  const n = reference.length;
  const m = hypothesis.length;
  const width = m + 1;
  const d = new Uint32Array((n + 1) * width);
  for (let i = 0; i <= n; i++) d[i * width] = i;
  for (let j = 0; j <= m; j++) d[j] = j;
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const diagonal = d[(i - 1) * width + j - 1] + (reference[i - 1] === hypothesis[j - 1] ? 0 : 1);
      d[i * width + j] = Math.min(diagonal, d[(i - 1) * width + j] + 1, d[i * width + j - 1] + 1);
    }
  }
  const counts: EditCounts = { hits: 0, substitutions: 0, deletions: 0, insertions: 0 };
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    const here = d[i * width + j];
    if (i > 0 && j > 0) {
      const same = reference[i - 1] === hypothesis[j - 1];
      if (here === d[(i - 1) * width + j - 1] + (same ? 0 : 1)) {
        if (same) counts.hits++; else counts.substitutions++;
        i--; j--;
        continue;
      }
    }
    if (i > 0 && here === d[(i - 1) * width + j] + 1) { counts.deletions++; i--; continue; }
    counts.insertions++;
    j--;
  }
  return counts;
}

/** The words of a text: runs of non-whitespace. */
export function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

/** The characters of a text (code points), whitespace trimmed and runs of it collapsed to one space. */
export function characters(text: string): string[] {
  return [...text.replace(/\s+/g, ' ').trim()];
}

/** Accumulates edit counts utterance by utterance, e.g. over the batches of an evaluation. */
export class ErrorRateCounter {
  private readonly totals: EditCounts = { hits: 0, substitutions: 0, deletions: 0, insertions: 0 };
  private referenceLength = 0;
  private utterances = 0;

  /** @param tokenize splits a text into the tokens compared: `words` (WER) or `characters` (CER). */
  constructor(private readonly tokenize: (text: string) => string[]) {}

  /** Adds one reference/hypothesis pair; returns its own counts. */
  add(reference: string, hypothesis: string): EditCounts {
    const ref = this.tokenize(reference);
    const counts = editCounts(ref, this.tokenize(hypothesis));
    this.totals.hits += counts.hits;
    this.totals.substitutions += counts.substitutions;
    this.totals.deletions += counts.deletions;
    this.totals.insertions += counts.insertions;
    this.referenceLength += ref.length;
    this.utterances++;
    return counts;
  }

  /** The corpus error rate so far; throws `BONSAI_CORE_METRICS_EMPTY_REFERENCE` while no reference token was added. */
  result(): ErrorRate {
    const edits = this.totals.substitutions + this.totals.deletions + this.totals.insertions;
    if (this.referenceLength === 0) {
      throw new BonsaiError(
        'BONSAI_CORE_METRICS_EMPTY_REFERENCE',
        `error rate: the references of ${this.utterances} utterances hold no tokens, so the rate (${edits} edits / 0) is undefined`,
        { utterances: this.utterances, edits },
      );
    }
    return { ...this.totals, edits, rate: edits / this.referenceLength, referenceLength: this.referenceLength, utterances: this.utterances };
  }
}

/** Word error rate of hypotheses against references (one text or parallel lists), aggregated over the corpus. */
export function wordErrorRate(references: string | readonly string[], hypotheses: string | readonly string[]): ErrorRate {
  return corpusRate(words, references, hypotheses);
}

/** Character error rate of hypotheses against references (one text or parallel lists), aggregated over the corpus. */
export function characterErrorRate(references: string | readonly string[], hypotheses: string | readonly string[]): ErrorRate {
  return corpusRate(characters, references, hypotheses);
}

function corpusRate(tokenize: (text: string) => string[], references: string | readonly string[], hypotheses: string | readonly string[]): ErrorRate {
  const refs = typeof references === 'string' ? [references] : references;
  const hyps = typeof hypotheses === 'string' ? [hypotheses] : hypotheses;
  if (refs.length !== hyps.length) {
    throw new BonsaiError(
      'BONSAI_CORE_METRICS_LENGTH_MISMATCH',
      `error rate: ${refs.length} references but ${hyps.length} hypotheses`,
      { references: refs.length, hypotheses: hyps.length },
    );
  }
  const counter = new ErrorRateCounter(tokenize);
  refs.forEach((ref, i) => counter.add(ref, hyps[i]));
  return counter.result();
}
