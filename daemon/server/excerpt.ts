/**
 * Client values quoted in error answers, cut to a few dozen characters. An answer that repeats
 * what it refuses whole is as large as the request (a 10 MB key, an 8 MB string in a tensor,
 * half a million unknown keys): it was sent back at up to four times the request's size (JSON
 * escapes), and building and redacting it held the event loop for seconds.
 */

/** Most characters of a client's value an error message or its details repeat. */
export const MAX_EXCERPT_CHARS = 80;

/** Most unknown keys an error names; the rest are counted. */
export const MAX_EXCERPT_KEYS = 5;

/** `value` as JSON (a string in quotes), cut to `MAX_EXCERPT_CHARS` with its full length said. */
export function excerpt(value: unknown): string {
  // A long string is cut before it is escaped: its excerpt costs the same whatever its length.
  const text = typeof value === 'string' && value.length > MAX_EXCERPT_CHARS
    ? JSON.stringify(value.slice(0, MAX_EXCERPT_CHARS))
    : (JSON.stringify(value) ?? String(value));
  if (typeof value === 'string' && value.length > MAX_EXCERPT_CHARS) return `${text.slice(0, -1)}..." (${value.length} characters)`;
  return text.length > MAX_EXCERPT_CHARS ? `${text.slice(0, MAX_EXCERPT_CHARS)}... (${text.length} characters)` : text;
}

/** The first `MAX_EXCERPT_KEYS` of `keys` as excerpts, and how many there are in all. */
export function excerptKeys(keys: readonly string[]): { shown: string[]; count: number; text: string } {
  const shown = keys.slice(0, MAX_EXCERPT_KEYS).map(excerpt);
  const more = keys.length - shown.length;
  return { shown, count: keys.length, text: more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ') };
}
