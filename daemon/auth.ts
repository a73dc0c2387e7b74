/**
 * Bearer-token check of the mutating HTTP routes. Tokens are compared as
 * SHA-256 digests with `crypto.timingSafeEqual`, so the comparison takes the
 * same time whatever the presented token's length or content.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Why a request is refused; `ok` when it may proceed. */
export type AuthVerdict =
  | { ok: true }
  | { ok: false; reason: 'disabled' | 'missing' | 'malformed' | 'mismatch' };

/** The token of an `Authorization: Bearer <token>` header, or null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match === null ? null : match[1];
}

/** True iff `presented` equals `expected`, in time independent of both. */
export function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks an `Authorization` header against the configured token. With no
 * token configured (undefined or empty) mutating routes are disabled.
 */
export function authorize(header: string | undefined, token: string | undefined): AuthVerdict {
  if (token === undefined || token.length === 0) return { ok: false, reason: 'disabled' };
  if (header === undefined || header.length === 0) return { ok: false, reason: 'missing' };
  const presented = bearerToken(header);
  if (presented === null) return { ok: false, reason: 'malformed' };
  return tokensEqual(presented, token) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
