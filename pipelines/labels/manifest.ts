/**
 * `manifest.jsonl` files: one `{ "file": "x.png", "label": "7" }` (or
 * `"transcript": "..."`) a line, `file` relative to the manifest's folder. A
 * manifest is used whole or not at all.
 */
import { lstat } from 'node:fs/promises';
import { BonsaiError } from '../../core/errors.ts';
import { LabelErrorCode } from './codes.ts';
import { printable } from './printable.ts';
import { errnoOf, readRegularFile } from './read-regular-file.ts';

/** Largest manifest read, in bytes. */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;
/** Name of a manifest file. */
export const MANIFEST_NAME = 'manifest.jsonl';

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
