/**
 * Process-wide sharp (libvips) settings for ingestion. Nothing is changed at
 * import; the daemon calls `configureSharp` once at start.
 *
 * For many small images the libvips operation cache only costs memory (every
 * input buffer is new, so nothing is ever reused), and one libvips thread per
 * image is enough: parallelism comes from decoding several images at once on
 * libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default).
 */
import sharp from 'sharp';

/** Settings for `configureSharp`. */
export interface SharpSettings {
  /** libvips threads per image (0 = one per core, sharp's default). */
  concurrency?: number;
  /** Keep libvips' operation cache (default false: useless for a stream of new files). */
  cache?: boolean;
}

/** Applies `settings` to the process's sharp and returns the resulting concurrency. */
export function configureSharp(settings: SharpSettings = {}): { concurrency: number; cache: boolean } {
  const cache = settings.cache ?? false;
  sharp.cache(cache);
  const concurrency = sharp.concurrency(settings.concurrency ?? 1);
  return { concurrency, cache };
}
