/**
 * Typed errors with a stable code, the actual values, and a cause.
 *
 * The codes are the string-literal unions of core/error-codes.ts, one per area
 * (`BONSAI_CORE_*`, `BONSAI_INGEST_*`, `BONSAI_STORE_*`, `BONSAI_DAEMON_*`,
 * `BONSAI_HTTP_*`, `BONSAI_CONFIG_*`, `BONSAI_CLI_*`, ...), so a BonsaiError takes
 * only a known code; `docs/errors*.md` lists each, and a test keeps the two equal.
 */
import type { ErrorCode } from './error-codes.ts';

export { ERROR_CODES, allErrorCodes, isErrorCode, type ErrorArea, type ErrorCode } from './error-codes.ts';

export class BonsaiError extends Error {
  /** Stable, documented code, e.g. `BONSAI_CORE_UNKNOWN_MODEL`. */
  readonly code: ErrorCode;
  /** The actual values that caused the error (serialisable). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BonsaiError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  /** A JSON-friendly form: `{ code, message, details }`. */
  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Throws `BONSAI_CORE_ASSERT` with the given values when `condition` is false. */
export function check(condition: unknown, code: ErrorCode, message: string, details: Record<string, unknown> = {}): asserts condition {
  if (!condition) throw new BonsaiError(code, message, details);
}
