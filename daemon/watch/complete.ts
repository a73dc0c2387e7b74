/**
 * When is a file in the inbox complete, so that it may be read?
 *
 * Producers either write elsewhere and rename the file in (atomic: complete on
 * arrival), or write in place and then create a `<file>.done` marker. Anything
 * else falls back to "unchanged for `stableMs`" (chokidar's awaitWriteFinish):
 *
 * 1. `<file>.done` exists: complete.
 * 2. Local volumes: complete once its mtime is `stableMs` old. Every write moves
 *    the mtime, so an old mtime means no write for that long; a file renamed in
 *    keeps the mtime of its writing and so is read at once.
 * 3. Polling mode (network and container volumes, whose server clock may be
 *    skewed against ours, so an mtime age means little): complete once two looks
 *    at least `stableMs` apart saw the same size and mtime.
 *
 * Only `lstat` is used: a symbolic link is looked at as a link, never through.
 * Links, FIFOs, sockets and devices are "complete" at once (the ingest protocol
 * quarantines them unopened).
 */
import { existsSync, lstatSync } from 'node:fs';
import { DONE_SUFFIX } from '../../pipelines/ingest/index.ts';

/**
 * Whether `path` is an entry the ingest protocol quarantines as it is, whatever
 * its name: a symbolic link (never followed), FIFO, socket or device.
 */
export function isSpecialEntry(path: string): boolean {
  try {
    const stats = lstatSync(path);
    return !stats.isFile() && !stats.isDirectory();
  } catch {
    return false;
  }
}

/** What `checkComplete` found. */
export type Completeness =
  | { state: 'complete'; why: 'done-marker' | 'settled' | 'special' }
  | { state: 'writing'; retryInMs: number }
  | { state: 'gone' };

/** A previous look at a file (polling mode). */
export interface Look {
  size: number;
  mtimeMs: number;
  at: number;
}

/** Options of `checkComplete`. */
export interface CompleteOptions {
  /** How long a file must be unchanged, in ms. */
  stableMs: number;
  /** Compare two looks instead of trusting the mtime's age (polling mode). */
  compareLooks: boolean;
  /** The previous look at this file, if any (updated in place by the caller from `look`). */
  previous?: Look;
  /** Clock in ms; default `Date.now`. */
  now?: number;
}

/** Decides whether `path` may be read now; `look` is this look, for the next call. */
export function checkComplete(path: string, options: CompleteOptions): Completeness & { look?: Look } {
  let stats;
  try {
    stats = lstatSync(path);
  } catch {
    return { state: 'gone' };
  }
  if (stats.isDirectory()) return { state: 'gone' };
  // A link, FIFO, socket or device is never written to completion: hand it over at once, unopened.
  if (!stats.isFile()) return { state: 'complete', why: 'special' };
  if (existsSync(path + DONE_SUFFIX)) return { state: 'complete', why: 'done-marker' };
  const now = options.now ?? Date.now();
  const look: Look = { size: stats.size, mtimeMs: stats.mtimeMs, at: now };
  if (options.stableMs <= 0) return { state: 'complete', why: 'settled', look };
  if (!options.compareLooks) {
    const age = now - stats.mtimeMs;
    if (age >= options.stableMs) return { state: 'complete', why: 'settled', look };
    return { state: 'writing', retryInMs: Math.max(10, Math.ceil(options.stableMs - age)), look };
  }
  const prev = options.previous;
  if (prev && prev.size === look.size && prev.mtimeMs === look.mtimeMs && now - prev.at >= options.stableMs) {
    return { state: 'complete', why: 'settled', look: prev };
  }
  const unchangedSince = prev && prev.size === look.size && prev.mtimeMs === look.mtimeMs ? prev : look;
  return { state: 'writing', retryInMs: Math.max(10, Math.ceil(options.stableMs - (now - unchangedSince.at))), look: unchangedSince };
}
