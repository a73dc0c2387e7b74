/**
 * The predict route's JSON body parser. A body within the size limit can still nest millions
 * of levels deep (`[[[[...]]]]`), and `JSON.parse` of that holds the event loop for seconds,
 * stalling every request and the ingestion with it. No predict body needs more than a few
 * levels (an object, a batch, the sample's axes), so the nesting is measured first, in one
 * pass over the text, and a body deeper than `MAX_JSON_DEPTH` is refused before parsing.
 */
import { httpError } from './errors.ts';
import { MAX_TENSOR_AXES } from './tensor.ts';

/** The deepest nesting of arrays and objects a predict body may have: a tensor of the most axes allowed, in an object, with a level to spare. */
export const MAX_JSON_DEPTH = MAX_TENSOR_AXES + 2;

/** The offset of the first `[` or `{` that opens level `max + 1` outside strings, or -1. */
export function depthExceededAt(text: string, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return -1;
}

/** Parses a JSON request body, refusing empty, too deeply nested and malformed ones with their codes. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw httpError('BONSAI_HTTP_EMPTY_BODY', 'request body is empty: send JSON such as {"tensor": [...]}', { bytes: Buffer.byteLength(text) });
  const at = depthExceededAt(text, MAX_JSON_DEPTH);
  if (at !== -1) {
    throw httpError('BONSAI_HTTP_JSON_TOO_DEEP', `request body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep (level ${MAX_JSON_DEPTH + 1} opens at character ${at}); a predict body needs a few`, { maxDepth: MAX_JSON_DEPTH, offset: at });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw httpError('BONSAI_HTTP_INVALID_JSON', `request body is not valid JSON: ${(err as Error).message}`, { bytes: Buffer.byteLength(text) });
  }
}
