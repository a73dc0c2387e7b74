/**
 * Where a sample's label comes from.
 *
 * Sources (DESIGN.md, "Input conventions"), in order of precedence:
 * 1. a `manifest.jsonl` line `{ "file": "x.png", "label": "7" }` (or
 *    `"transcript": "..."`); the closest manifest walking up from the file's
 *    folder to the inbox root wins, and `file` is relative to the manifest's
 *    folder (so a producer can drop a batch folder with its own manifest);
 * 2. for recordings, a sidecar transcript `<file>.txt` (e.g. `x.wav.txt`) or, when
 *    there is none, `<stem>.txt` (e.g. `x.txt`);
 * 3. the folder name: `inbox/<label>/<file>`; the first folder under the
 *    inbox root is the label, deeper folders are allowed and ignored (as in
 *    Keras' `image_dataset_from_directory`).
 * A file directly in the inbox root with none of these has no label.
 *
 * The label found is then validated: a class label by `validateClassLabel` and
 * the policy (class-label.ts), a transcript by `normalizeTranscript` (transcript.ts).
 */
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import type { Modality } from '../types.ts';
import { LabelErrorCode } from './codes.ts';
import { applyLabelPolicy, validateClassLabel, type LabelPolicy, type LabelSource } from './class-label.ts';
import { normalizeTranscript, type TranscriptOptions } from './transcript.ts';
import { MANIFEST_NAME, ManifestCache, type ManifestEntry } from './manifest.ts';
import { readRegularFile } from './read-regular-file.ts';

/** Largest sidecar transcript file read, in bytes. */
export const MAX_SIDECAR_BYTES = 64 * 1024;

/** A label that passed validation and the policy. */
export interface ResolvedLabel {
  /** `class` for classification, `transcript` for speech. */
  kind: 'class' | 'transcript';
  /** The class label, or the normalised transcript. */
  value: string;
  source: LabelSource;
  /** A class not among the known labels (always false for transcripts and when no known set was given). */
  isNew: boolean;
  /** Absolute path of the sidecar transcript the label came from (source `sidecar`). */
  sidecar?: string;
}

/** Where and how to look for a label. */
export interface LabelOptions {
  /** The watched inbox folder; the file must be inside it. */
  inboxRoot: string;
  /** Classes seen so far (for the policy); omitted = no policy check. */
  knownLabels?: ReadonlySet<string> | readonly string[];
  /** What to do with a class never seen before (default `new-class`). */
  policy?: LabelPolicy;
  /** The file's modality: sidecar transcripts are only read for audio. */
  modality?: Modality;
  /** Transcript normalisation options. */
  transcript?: TranscriptOptions;
  /** Reuse parsed manifests across calls (the daemon keeps one). */
  manifests?: ManifestCache;
}

/** True when `path` lies inside `root` (after resolving both). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function resolveEntry(entry: ManifestEntry, options: LabelOptions, display: string): ResolvedLabel {
  if (entry.transcript !== undefined) {
    if (typeof entry.transcript !== 'string') {
      throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `${display} line ${entry.line}: "transcript" is not a string`, { line: entry.line });
    }
    return { kind: 'transcript', value: normalizeTranscript(entry.transcript, options.transcript), source: 'manifest', isNew: false };
  }
  const label = validateClassLabel(entry.label, 'manifest');
  const { isNew } = applyLabelPolicy(label, options.knownLabels, options.policy ?? 'new-class');
  return { kind: 'class', value: label, source: 'manifest', isNew };
}

/** The sidecar transcripts looked for beside a recording, in order: `x.wav.txt`, then `x.txt`. */
export function sidecarCandidates(file: string): string[] {
  const ext = extname(file);
  return ext === '' ? [`${file}.txt`] : [`${file}.txt`, `${file.slice(0, -ext.length)}.txt`];
}

async function sidecarTranscript(file: string, filePath: string, options: LabelOptions): Promise<ResolvedLabel | null> {
  for (const sidecar of sidecarCandidates(file)) {
    const shown = sidecar === `${file}.txt` ? `${filePath}.txt` : sidecar;
    const read = await readRegularFile(sidecar, MAX_SIDECAR_BYTES);
    if (read.ok) {
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
      } catch (err) {
        throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the sidecar transcript ${shown} is not valid UTF-8`, { sidecar: shown }, { cause: err });
      }
      return { kind: 'transcript', value: normalizeTranscript(text, options.transcript), source: 'sidecar', isNew: false, sidecar };
    }
    if (read.reason !== 'not-found') {
      throw new BonsaiError(LabelErrorCode.TRANSCRIPT_INVALID, `the sidecar transcript ${shown} ${read.message}`, { sidecar: shown, reason: read.reason });
    }
  }
  return null;
}

/**
 * Finds, validates and applies the policy to the label of `filePath`, a file
 * inside `options.inboxRoot`. Throws a BonsaiError with a BONSAI_INGEST_LABEL_*,
 * BONSAI_INGEST_TRANSCRIPT_INVALID or BONSAI_INGEST_MANIFEST_INVALID code.
 */
export async function resolveLabel(filePath: string, options: LabelOptions): Promise<ResolvedLabel> {
  const root = resolve(options.inboxRoot);
  const file = resolve(filePath);
  if (!isInside(root, file)) {
    throw new BonsaiError(LabelErrorCode.MISSING, `${filePath} is not inside the inbox ${options.inboxRoot}, so it has no folder label`, { file: filePath, inboxRoot: options.inboxRoot });
  }
  const manifests = options.manifests ?? new ManifestCache();
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifestPathOnDisk = join(dir, MANIFEST_NAME);
    const display = relative(root, manifestPathOnDisk).split(sep).join('/');
    const entries = await manifests.get(manifestPathOnDisk, display);
    const entry = entries?.get(relative(dir, file).split(sep).join('/'));
    if (entry !== undefined) return resolveEntry(entry, options, display);
    if (dir === root || dirname(dir) === dir) break;
  }
  if (options.modality === 'audio') {
    const fromSidecar = await sidecarTranscript(file, filePath, options);
    if (fromSidecar) return fromSidecar;
  }
  const parts = relative(root, file).split(sep);
  if (parts.length < 2) {
    throw new BonsaiError(LabelErrorCode.MISSING, `${filePath} lies directly in the inbox: put it in inbox/<label>/, list it in ${MANIFEST_NAME}${options.modality === 'audio' ? ', or add a sidecar transcript <file>.txt or <stem>.txt' : ''}`, { file: filePath });
  }
  const label = validateClassLabel(parts[0], 'folder');
  const { isNew } = applyLabelPolicy(label, options.knownLabels, options.policy ?? 'new-class');
  return { kind: 'class', value: label, source: 'folder', isNew };
}
