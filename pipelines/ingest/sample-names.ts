/**
 * Which names in the inbox are samples: the one rule of the inbox listing
 * (`scanInbox`) and of the daemon's watcher (daemon/watch). Not samples: hidden
 * names (temp files of atomic writers), `.done` markers, sidecar transcripts
 * (`.txt`), `manifest.jsonl`, and partial downloads or temp files.
 */
import { basename } from 'node:path';
import { MANIFEST_NAME } from '../labels/index.ts';

/** Suffix of the marker a producer creates after writing `<file>`. */
export const DONE_SUFFIX = '.done';

/** Endings of names that are never samples, in any case: markers, sidecars, partial downloads, temp files. */
const NOT_SAMPLE_ENDING = /\.(done|txt|tmp|part|partial|crdownload)$/i;

/**
 * Whether `path` is named like a sidecar transcript (`x.wav.txt`, `x.txt`). Such an entry is
 * never ingested on its own, even when it is a link or a FIFO: it waits for its recording,
 * whose label resolution refuses it (BONSAI_INGEST_TRANSCRIPT_INVALID) and takes it along to
 * quarantine. Quarantined on its own first, it would leave the recording to be labelled by
 * its folder instead.
 */
export function isTranscriptName(path: string): boolean {
  return basename(path).endsWith('.txt');
}

/**
 * Whether an inbox entry is an input: a sample's name, or any link, FIFO, socket or device (to be
 * quarantined) not named like a sidecar transcript. `special` says whether the entry is one of
 * those; it is only asked when the name does not decide.
 */
export function isInboxInput(path: string, special: () => boolean): boolean {
  return isSampleName(path) || (!isTranscriptName(path) && special());
}

/** Whether the file at `path` (only its last component is read) has a sample's name. */
export function isSampleName(path: string): boolean {
  const name = basename(path);
  return !name.startsWith('.') && name !== MANIFEST_NAME && !NOT_SAMPLE_ENDING.test(name);
}

/**
 * The first C0 or C1 control character in `text` (a newline, a tab, an escape...) as `U+XXXX`, or
 * undefined. A file whose path holds one is refused by ingestion and `bonsai check` alike: such
 * names break listings, logs read as text and terminals that show them.
 */
export function controlCharacter(text: string): string | undefined {
  for (const c of text) {
    const code = c.codePointAt(0) as number;
    if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0)) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}
