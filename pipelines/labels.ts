/**
 * Where a sample's label comes from, and whether it is acceptable.
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
 * Class labels match `[A-Za-z0-9_-]{1,64}` (ASCII only, so no path tricks,
 * control characters, homoglyphs or bidi overrides). Transcripts are
 * normalised (compatibility forms, accents stripped, lower case, punctuation
 * to spaces, one space between words) and must then fit the model's alphabet.
 * A class never seen before is accepted as a new class or rejected, per policy.
 */
import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BonsaiError } from '../core/errors.ts';
import { ENGLISH_ALPHABET } from '../core/text/alphabet.ts';
import type { Modality } from './types.ts';

/** Error codes of label parsing (documented in `docs/errors-ingest-image.md`). */
export const LabelErrorCode = {
  /** A class label does not match `[A-Za-z0-9_-]{1,64}`. */
  INVALID: 'BONSAI_INGEST_LABEL_INVALID',
  /** A class label not among the known classes while the label policy is `reject`. */
  UNKNOWN: 'BONSAI_INGEST_LABEL_UNKNOWN',
  /** A file under the inbox with no folder label, manifest entry or sidecar transcript. */
  MISSING: 'BONSAI_INGEST_LABEL_MISSING',
  /** A transcript is empty, too long, or holds characters outside the alphabet or control/format characters. */
  TRANSCRIPT_INVALID: 'BONSAI_INGEST_TRANSCRIPT_INVALID',
  /** A `manifest.jsonl` cannot be used: a line is not JSON, lacks `file`/`label`, names an unsafe path, or contradicts another line. */
  MANIFEST_INVALID: 'BONSAI_INGEST_MANIFEST_INVALID',
} as const;

/** The class-label pattern of the input conventions. */
export const CLASS_LABEL_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Longest class label. */
export const MAX_LABEL_LENGTH = 64;
/** Default longest transcript, in characters after normalisation. */
export const MAX_TRANSCRIPT_LENGTH = 512;
/** Largest sidecar transcript file read, in bytes. */
export const MAX_SIDECAR_BYTES = 64 * 1024;
/** Largest manifest read, in bytes. */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;
/** Name of a manifest file. */
export const MANIFEST_NAME = 'manifest.jsonl';

/** What to do with a class label never seen before. */
export type LabelPolicy = 'new-class' | 'reject';
/** Where a label was found. */
export type LabelSource = 'folder' | 'manifest' | 'sidecar';

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

/** Shows a string with everything outside printable ASCII escaped, cut to `max` characters. */
export function printable(s: string, max = 80): string {
  const cut = [...s].length > max ? `${[...s].slice(0, max).join('')}...` : s;
  return `'${[...cut].map((c) => {
    const code = c.codePointAt(0)!;
    if (c === "'" || c === '\\') return `\\${c}`;
    return code >= 0x20 && code < 0x7f ? c : `\\u{${code.toString(16).toUpperCase()}}`;
  }).join('')}'`;
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

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

/** Why a regular-file read failed. */
export type ReadFailure = 'not-found' | 'symlink' | 'directory' | 'not-regular' | 'too-large' | 'unreadable' | 'name-invalid';

/** The outcome of `readRegularFile`. */
export type ReadResult =
  | { ok: true; bytes: Buffer; size: number }
  | { ok: false; reason: ReadFailure; message: string; errno?: string; size?: number };

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function readFailure(err: unknown): ReadResult {
  const errno = errnoOf(err);
  const message = err instanceof Error ? err.message : String(err);
  switch (errno) {
    case 'ENOENT':
    case 'ENOTDIR': return { ok: false, reason: 'not-found', message: 'does not exist', errno };
    case 'ELOOP': return { ok: false, reason: 'symlink', message: 'is a symbolic link', errno };
    case 'EISDIR': return { ok: false, reason: 'directory', message: 'is a directory', errno };
    case 'ENAMETOOLONG': return { ok: false, reason: 'name-invalid', message: 'has a name that is too long', errno };
    default: return { ok: false, reason: 'unreadable', message: `cannot be read (${errno ?? message})`, errno };
  }
}

/** Names the kind of a non-regular file system object. */
function kindOf(stats: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most `maxBytes` without following a symbolic
 * link, without blocking on a FIFO, and without reading more than the limit:
 * `lstat` first (the size is checked before anything is read), then `open`
 * with O_NOFOLLOW | O_NONBLOCK and `fstat` to be sure the file opened is the
 * one checked. Never throws; the result says what went wrong.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<ReadResult> {
  let before;
  try {
    before = await lstat(path);
  } catch (err) {
    return readFailure(err);
  }
  if (before.isSymbolicLink()) return { ok: false, reason: 'symlink', message: 'is a symbolic link' };
  if (before.isDirectory()) return { ok: false, reason: 'directory', message: 'is a directory' };
  if (!before.isFile()) return { ok: false, reason: 'not-regular', message: `is ${kindOf(before)}` };
  if (before.size > maxBytes) return { ok: false, reason: 'too-large', message: `has ${before.size} bytes, more than the limit of ${maxBytes}`, size: before.size };
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return readFailure(err);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.ino !== before.ino || stats.dev !== before.dev) {
      return { ok: false, reason: 'not-regular', message: 'was replaced while being opened' };
    }
    // Read to the end but never more than one byte past the limit; start from the
    // size fstat gives (plus one, to notice growth) and grow for files whose size
    // is not known in advance (procfs, some FUSE file systems) or that grew.
    const cap = maxBytes + 1;
    let buffer = Buffer.allocUnsafe(Math.min(cap, Math.max(stats.size, 0) + 1));
    let total = 0;
    for (;;) {
      if (total === buffer.length) {
        if (buffer.length === cap) break;
        const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(4096, buffer.length * 2)));
        buffer.copy(grown, 0, 0, total);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > maxBytes) return { ok: false, reason: 'too-large', message: `grew past the limit of ${maxBytes} bytes while being read`, size: total };
    return { ok: true, bytes: buffer.subarray(0, total), size: total };
  } catch (err) {
    return readFailure(err);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** One manifest line: a class label or a transcript for a file. */
export interface ManifestEntry {
  /** Path relative to the manifest's folder, `/`-separated. */
  file: string;
  label?: unknown;
  transcript?: unknown;
  /** 1-based line number, for messages. */
  line: number;
}

function manifestError(source: string, line: number, problem: string, details: Record<string, unknown> = {}): BonsaiError {
  return new BonsaiError(LabelErrorCode.MANIFEST_INVALID, `${source} line ${line}: ${problem}`, { manifest: source, line, ...details });
}

/** Normalises a manifest `file` to a safe relative `/`-separated path, or says why it is unsafe. */
function manifestPath(file: string): string | { problem: string } {
  if (file.length === 0) return { problem: 'file is empty' };
  if (file.includes('\\')) return { problem: `file ${printable(file)} contains a backslash; use '/'` };
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) return { problem: `file ${printable(file)} is absolute; it must be relative to the manifest's folder` };
  if ([...file].some((c) => c.codePointAt(0)! < 0x20 || c.codePointAt(0) === 0x7f)) return { problem: `file ${printable(file)} contains a control character` };
  const parts = file.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { problem: `file ${printable(file)} leaves the manifest's folder ('..')` };
  if (parts.length === 0) return { problem: `file ${printable(file)} names no file` };
  return parts.join('/');
}

/**
 * Parses the text of a `manifest.jsonl` (one JSON object a line, blank lines
 * allowed) into entries keyed by normalised relative path. A manifest is used
 * whole or not at all: any bad line throws BONSAI_INGEST_MANIFEST_INVALID with
 * its line number. Labels themselves are validated when a file is looked up.
 */
export function parseManifest(text: string, source = MANIFEST_NAME): Map<string, ManifestEntry> {
  const entries = new Map<string, ManifestEntry>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '') return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw manifestError(source, line, `not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw manifestError(source, line, 'not a JSON object');
    const record = value as Record<string, unknown>;
    if (typeof record.file !== 'string') throw manifestError(source, line, `"file" is ${JSON.stringify(record.file) ?? 'missing'}, expected a string`);
    const hasLabel = 'label' in record;
    const hasTranscript = 'transcript' in record;
    if (hasLabel === hasTranscript) throw manifestError(source, line, 'expected exactly one of "label" and "transcript"');
    const path = manifestPath(record.file);
    if (typeof path !== 'string') throw manifestError(source, line, path.problem);
    const entry: ManifestEntry = { file: path, line, ...(hasLabel ? { label: record.label } : { transcript: record.transcript }) };
    const previous = entries.get(path);
    if (previous !== undefined && (previous.label !== entry.label || previous.transcript !== entry.transcript)) {
      throw manifestError(source, line, `${printable(path)} is labelled differently on line ${previous.line}`, { file: path, otherLine: previous.line });
    }
    entries.set(path, entry);
  });
  return entries;
}

/** Parsed manifests by path, reused while the manifest's size and mtime are unchanged. */
export class ManifestCache {
  private readonly parsed = new Map<string, { size: number; mtimeMs: number; entries: Map<string, ManifestEntry> }>();

  /** The entries of the manifest at `path`; `undefined` when there is no manifest there. Throws BONSAI_INGEST_MANIFEST_INVALID. */
  async get(path: string, displayName: string): Promise<Map<string, ManifestEntry> | undefined> {
    let stats;
    try {
      stats = await lstat(path);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
      throw new BonsaiError(LabelErrorCode.MANIFEST_INVALID, `${displayName} cannot be read (${errnoOf(err) ?? String(err)})`, { manifest: displayName }, { cause: err });
    }
    const hit = this.parsed.get(path);
    if (hit !== undefined && hit.size === stats.size && hit.mtimeMs === stats.mtimeMs) return hit.entries;
    const read = await readRegularFile(path, MAX_MANIFEST_BYTES);
    if (!read.ok) {
      if (read.reason === 'not-found') return undefined;
      throw new BonsaiError(LabelErrorCode.MANIFEST_INVALID, `${displayName} ${read.message}`, { manifest: displayName, reason: read.reason });
    }
    const entries = parseManifest(read.bytes.toString('utf8'), displayName);
    this.parsed.set(path, { size: stats.size, mtimeMs: stats.mtimeMs, entries });
    return entries;
  }
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

/**
 * Files in an inbox that carry labels or signal completion rather than being
 * samples: manifests, sidecar transcripts (`*.txt`), `.done` markers and
 * hidden files. The watcher skips them.
 */
export function isInboxAuxiliary(name: string): boolean {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf(sep)) + 1);
  return base === MANIFEST_NAME || base.startsWith('.') || base.endsWith('.txt') || base.endsWith('.done');
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
