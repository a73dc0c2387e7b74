/**
 * The verdict on one file: would bonsai ingest it, and if not, why. This is
 * `bonsai check` (DESIGN.md, "Contracts") and the first step of ingestion.
 *
 * Order of checks, cheapest first; the first failure is the verdict:
 * 1. the name (empty, or with control characters);
 * 2. the file system object (lstat: no symbolic links, directories, FIFOs,
 *    sockets or devices) and its size (before a byte is read);
 * 3. reading it (O_NOFOLLOW, non-blocking, never past the size limit);
 * 4. the content's real format, from its magic bytes (a name whose extension
 *    disagrees is accepted when the content is valid, and the verdict says so);
 * 5. the label, when the file lies under the inbox root;
 * 6. the image or audio pipeline, in full, without storing anything.
 * Nothing here throws for bad input: every failure becomes a verdict with a
 * code; an error that is not a BonsaiError becomes BONSAI_INGEST_UNEXPECTED.
 */
import { basename } from 'node:path';
import { BonsaiError } from '../core/errors.ts';
import { processAudio } from './audio/index.ts';
import { processImageDetailed } from './image/index.ts';
import { isInside, printable, readRegularFile, resolveLabel, type LabelPolicy, type ManifestCache, type ReadFailure, type ResolvedLabel, type TranscriptOptions } from './labels/index.ts';
import { extensionMismatch, formatError, sniff } from './sniff.ts';
import { modalityMismatch } from './modality.ts';
import type { AudioSpec, ImageSpec, IngestLimits, Modality, ProcessedSample } from './types.ts';
import { controlCharacter } from './ingest/sample-names.ts';

/** Error codes of file-level checks (documented in `docs/errors-ingest-image.md`). */
export const CheckErrorCode = {
  /** The path is empty or its name holds control characters. */
  NAME_INVALID: 'BONSAI_INGEST_FILE_NAME_INVALID',
  /** Nothing exists at the path. */
  NOT_FOUND: 'BONSAI_INGEST_FILE_NOT_FOUND',
  /** The path is a symbolic link (never followed). */
  SYMLINK: 'BONSAI_INGEST_FILE_SYMLINK',
  /** The path is a directory, FIFO, socket or device, or was replaced while being opened. */
  NOT_REGULAR: 'BONSAI_INGEST_FILE_NOT_REGULAR',
  /** The file cannot be opened or read (permissions, I/O error). */
  UNREADABLE: 'BONSAI_INGEST_FILE_UNREADABLE',
  /** The file is larger than `limits.maxFileBytes` (from lstat, nothing is read). */
  TOO_LARGE: 'BONSAI_INGEST_FILE_TOO_LARGE',
  /** The file has zero bytes. */
  EMPTY: 'BONSAI_INGEST_FILE_EMPTY',
  /** A pipeline failed with an error that is not a BonsaiError (a bug; the message says what). */
  UNEXPECTED: 'BONSAI_INGEST_UNEXPECTED',
} as const;

/** One line of `bonsai check --json`. */
export interface Verdict {
  /** The path as given. */
  file: string;
  ok: boolean;
  /** The error code, when rejected. */
  code?: string;
  /** What was found or what is wrong, with the actual values. */
  message: string;
  /** Which pipeline the content belongs to, once known. */
  modality?: Modality;
  /** Shape of the features, when accepted. */
  shape?: number[];
}

/** What `checkFile` needs: the specs and limits of the pipelines and, for label checks, the inbox. */
export interface CheckOptions {
  /** What the model reads (`model.modality`): content of the other modality gets BONSAI_INGEST_WRONG_MODALITY, as in the daemon. Undefined: either. */
  modality?: Modality;
  imageSpec: ImageSpec;
  audioSpec: AudioSpec;
  limits: IngestLimits;
  /** Classes seen so far, for the label policy. */
  knownLabels?: ReadonlySet<string> | readonly string[];
  /** What to do with a class never seen before (default `new-class`). */
  labelPolicy?: LabelPolicy;
  /** The watched inbox; files inside it must carry a valid label. */
  inboxRoot?: string;
  /** Transcript normalisation options. */
  transcript?: TranscriptOptions;
  /** Parsed manifests reused across calls. */
  manifests?: ManifestCache;
}

/** A verdict and, when accepted, what ingestion needs next. */
export interface Inspection {
  verdict: Verdict;
  /** The processed sample (accepted files only). */
  sample?: ProcessedSample;
  /** The label (accepted files inside the inbox only). */
  label?: ResolvedLabel;
  /** The bytes read (whenever the file could be read), e.g. for a content hash. */
  bytes?: Buffer;
}

const READ_CODES: Readonly<Record<ReadFailure, string>> = {
  'not-found': CheckErrorCode.NOT_FOUND,
  symlink: CheckErrorCode.SYMLINK,
  directory: CheckErrorCode.NOT_REGULAR,
  'not-regular': CheckErrorCode.NOT_REGULAR,
  'too-large': CheckErrorCode.TOO_LARGE,
  unreadable: CheckErrorCode.UNREADABLE,
  'name-invalid': CheckErrorCode.NAME_INVALID,
};

function reject(file: string, code: string, message: string, modality?: Modality): Verdict {
  return modality === undefined ? { file, ok: false, code, message } : { file, ok: false, code, message, modality };
}

/** Why a path's name is unusable, or undefined. */
function nameProblem(path: string): string | undefined {
  if (path.length === 0) return 'the path is empty';
  const name = basename(path);
  if (name.length === 0 || name.trim().length === 0) return `the file name ${printable(name)} is empty`;
  const control = controlCharacter(path);
  return control === undefined ? undefined : `the path ${printable(path)} contains the control character ${control}`;
}

function describeLabel(label: ResolvedLabel): string {
  if (label.kind === 'transcript') return `transcript ${printable(label.value, 60)} (${label.source})`;
  return `label ${printable(label.value)} (${label.source}${label.isNew ? ', new class' : ''})`;
}

/** Runs `path` through sniffing, the label check and its pipeline; never throws. */
export async function inspectFile(path: string, options: CheckOptions): Promise<Inspection> {
  try {
    return await inspect(path, options);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { verdict: reject(path, CheckErrorCode.UNEXPECTED, `unexpected failure: ${message}`) };
  }
}

async function inspect(path: string, options: CheckOptions): Promise<Inspection> {
  const problem = nameProblem(path);
  if (problem !== undefined) return { verdict: reject(path, CheckErrorCode.NAME_INVALID, problem) };
  const read = await readRegularFile(path, options.limits.maxFileBytes);
  if (!read.ok) {
    // A name that is not UTF-8 reaches Node with U+FFFD in place of its bad bytes, so it cannot be opened by that name.
    if (read.reason === 'not-found' && path.includes('\ufffd')) {
      return { verdict: reject(path, CheckErrorCode.NAME_INVALID, `the path ${printable(path)} is not valid UTF-8 (its bad bytes arrive as U+FFFD, so the file cannot be opened by that name); rename it`) };
    }
    return { verdict: reject(path, READ_CODES[read.reason], `the file ${read.message}`) };
  }
  const bytes = read.bytes;
  if (bytes.length === 0) return { verdict: reject(path, CheckErrorCode.EMPTY, 'the file is empty (0 bytes)'), bytes };
  const sniffed = sniff(bytes);
  if (sniffed.kind !== 'image' && sniffed.kind !== 'audio') {
    const err = formatError(sniffed, 'any', basename(path));
    return { verdict: reject(path, err.code, err.message), bytes };
  }
  const modality = sniffed.modality;
  const wrong = options.modality === undefined ? null : modalityMismatch(basename(path), sniffed, options.modality);
  if (wrong !== null) return { verdict: reject(path, wrong.code, wrong.message, modality), bytes };
  const notes: string[] = [];
  const mismatch = extensionMismatch(path, sniffed.format);
  if (mismatch !== undefined) notes.push(mismatch);
  let label: ResolvedLabel | undefined;
  try {
    if (options.inboxRoot !== undefined && isInside(options.inboxRoot, path)) {
      label = await resolveLabel(path, {
        inboxRoot: options.inboxRoot,
        knownLabels: options.knownLabels,
        policy: options.labelPolicy,
        modality,
        transcript: options.transcript,
        manifests: options.manifests,
      });
    }
    let sample: ProcessedSample;
    let what: string;
    if (modality === 'image') {
      const image = await processImageDetailed(bytes, options.imageSpec, options.limits);
      sample = image.sample;
      const size = image.sourceWidth === undefined ? '' : ` ${image.sourceWidth}x${image.sourceHeight}`;
      what = `${image.format.toUpperCase()}${size}${image.inverted ? ' (light background, inverted)' : ''}`;
    } else {
      sample = await processAudio(bytes, options.audioSpec, options.limits);
      what = 'WAV';
    }
    const parts = [`${what} -> [${sample.shape.join(', ')}]`];
    if (label !== undefined) parts.push(describeLabel(label));
    parts.push(...notes.map((n) => `note: ${n}`));
    return { verdict: { file: path, ok: true, message: parts.join('; '), modality, shape: sample.shape }, sample, label, bytes };
  } catch (err) {
    if (err instanceof BonsaiError) {
      const note = notes.length > 0 ? ` (note: ${notes.join('; ')})` : '';
      return { verdict: reject(path, err.code, `${err.message}${note}`, modality), label, bytes };
    }
    const message = err instanceof Error ? err.message : String(err);
    return { verdict: reject(path, CheckErrorCode.UNEXPECTED, `unexpected failure in the ${modality} pipeline: ${message}`, modality), label, bytes };
  }
}

/** The `bonsai check` verdict for one file; never throws. */
export async function checkFile(path: string, options: CheckOptions): Promise<Verdict> {
  return (await inspectFile(path, options)).verdict;
}

/** One human-readable line for a verdict: `ok   FILE  message` or `FAIL FILE  CODE message`. */
export function formatVerdict(verdict: Verdict): string {
  const file = nameProblem(verdict.file) === undefined ? verdict.file : printable(verdict.file);
  return verdict.ok ? `ok   ${file}  ${verdict.message}` : `FAIL ${file}  ${verdict.code} ${verdict.message}`;
}
