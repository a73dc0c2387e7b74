/**
 * Class labels: they match `[A-Za-z0-9_-]{1,64}` (ASCII only, so no path tricks,
 * control characters, homoglyphs or bidi overrides), and a class never seen
 * before is accepted as a new class or rejected, per policy.
 */
import { BonsaiError } from '../../core/errors.ts';
import { LabelErrorCode } from './codes.ts';
import { codePoint, printable } from './printable.ts';

/** The class-label pattern of the input conventions. */
export const CLASS_LABEL_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest class label. */
export const MAX_LABEL_LENGTH = 64;

/** What to do with a class label never seen before. */
export type LabelPolicy = 'new-class' | 'reject';
/** Where a label was found. */
export type LabelSource = 'folder' | 'manifest' | 'sidecar';

/** Why `label` fails the class-label pattern, in words (undefined when it passes). */
function classLabelProblem(label: string): string | undefined {
  if (label.length === 0) return 'it is empty';
  if (label === '.' || label === '..') return 'it is a relative path component';
  const chars = [...label];
  const separator = chars.find((c) => c === '/' || c === '\\');
  if (separator !== undefined) return `it contains a path separator ${JSON.stringify(separator)}`;
  for (const c of chars) {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return `it contains the control character ${codePoint(c)}`;
    if (code >= 0x80) return `it contains the non-ASCII character ${codePoint(c)}`;
  }
  const other = chars.find((c) => !/[A-Za-z0-9_-]/.test(c));
  if (other !== undefined) return `it contains ${JSON.stringify(other)}`;
  if (chars.length > MAX_LABEL_LENGTH) return `it has ${chars.length} characters, at most ${MAX_LABEL_LENGTH} are allowed`;
  return undefined;
}

/** Returns `label` if it matches `[A-Za-z0-9_-]{1,64}`; otherwise throws BONSAI_INGEST_LABEL_INVALID saying why. */
export function validateClassLabel(label: unknown, source: LabelSource): string {
  if (typeof label !== 'string') {
    throw new BonsaiError(LabelErrorCode.INVALID, `the ${source} label is ${JSON.stringify(label) ?? String(label)}, not a string`, { source, label: String(label) });
  }
  const problem = classLabelProblem(label);
  if (problem !== undefined) {
    throw new BonsaiError(LabelErrorCode.INVALID, `the ${source} label ${printable(label)} is invalid: ${problem} (labels match [A-Za-z0-9_-]{1,64})`, { source, label: printable(label, 200), problem });
  }
  return label;
}

/**
 * Applies the label policy: a label among `known` is accepted; a new one is
 * accepted as a new class (`new-class`) or rejected with
 * BONSAI_INGEST_LABEL_UNKNOWN (`reject`). Without a known set every label is accepted and none is new.
 */
export function applyLabelPolicy(label: string, known: ReadonlySet<string> | readonly string[] | undefined, policy: LabelPolicy): { label: string; isNew: boolean } {
  if (known === undefined) return { label, isNew: false };
  const set = known instanceof Set ? known : new Set(known as readonly string[]);
  if (set.has(label)) return { label, isNew: false };
  if (policy === 'reject') {
    const list = [...set].slice(0, 20).join(', ');
    throw new BonsaiError(LabelErrorCode.UNKNOWN, `the label ${printable(label)} is not one of the ${set.size} known classes (${list}${set.size > 20 ? ', ...' : ''}) and the label policy is 'reject'`, { label, knownCount: set.size, policy });
  }
  return { label, isNew: true };
}
