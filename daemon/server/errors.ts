/**
 * HTTP errors: one table of stable codes and their statuses, and the mapping of
 * any thrown error to the JSON body `{ "error": { "code", "message", "details"? } }`.
 * docs/errors-http.md lists every code; a test keeps the two equal.
 */
import { BonsaiError, type ErrorCode } from '../../core/errors.ts';

/** Every `BONSAI_HTTP_*` code and its HTTP status. */
export const HTTP_ERRORS = {
  BONSAI_HTTP_BAD_REQUEST: 400,
  BONSAI_HTTP_INVALID_JSON: 400,
  BONSAI_HTTP_JSON_TOO_DEEP: 400,
  BONSAI_HTTP_EMPTY_BODY: 400,
  BONSAI_HTTP_BAD_TENSOR: 400,
  BONSAI_HTTP_BAD_TENSOR_SHAPE: 400,
  BONSAI_HTTP_BAD_VERSION: 400,
  BONSAI_HTTP_UNAUTHORIZED: 401,
  BONSAI_HTTP_MUTATIONS_DISABLED: 403,
  BONSAI_HTTP_NOT_FOUND: 404,
  BONSAI_HTTP_REQUEST_TIMEOUT: 408,
  BONSAI_HTTP_MODEL_NOT_FOUND: 404,
  BONSAI_HTTP_NO_CHAMPION: 404,
  BONSAI_HTTP_FILE_NOT_FOUND: 404,
  BONSAI_HTTP_NO_PREVIOUS_VERSION: 409,
  BONSAI_HTTP_UPDATE_REFUSED: 409,
  BONSAI_HTTP_BODY_TOO_LARGE: 413,
  BONSAI_HTTP_BATCH_TOO_LARGE: 413,
  BONSAI_HTTP_UTTERANCE_TOO_LONG: 413,
  BONSAI_HTTP_HEADERS_TOO_LARGE: 431,
  BONSAI_HTTP_UNSUPPORTED_MEDIA_TYPE: 415,
  BONSAI_HTTP_WRONG_MODALITY: 415,
  BONSAI_HTTP_INPUT_SHAPE_MISMATCH: 422,
  BONSAI_HTTP_NON_FINITE_OUTPUT: 422,
  BONSAI_HTTP_INTERNAL: 500,
  BONSAI_HTTP_MODEL_OUTPUT: 500,
  BONSAI_HTTP_SWAP_FAILED: 500,
  BONSAI_HTTP_NO_MODEL: 503,
  BONSAI_HTTP_NOT_READY: 503,
  BONSAI_HTTP_BUSY: 503,
} as const;

/** A stable HTTP error code. */
export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** Status used for preprocessing errors (a decodable request whose content was rejected). */
export const PREPROCESS_STATUS = 422;

/** A BonsaiError that carries its HTTP status. */
export class HttpError extends BonsaiError {
  readonly status: number;

  constructor(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** An `HttpError` with the status of `code` from the table. */
export function httpError(code: HttpErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): HttpError {
  return new HttpError(HTTP_ERRORS[code], code, message, details, cause === undefined ? undefined : { cause });
}

/** The JSON error body. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** fastify's own error codes and what they become. */
const FASTIFY_ERRORS: Record<string, { code: HttpErrorCode; message: (err: Error) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'BONSAI_HTTP_UNSUPPORTED_MEDIA_TYPE', message: () => 'unsupported content type' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'BONSAI_HTTP_BODY_TOO_LARGE', message: () => 'request body is larger than the limit' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'BONSAI_HTTP_INVALID_JSON', message: () => 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'BONSAI_HTTP_EMPTY_BODY', message: () => 'request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'BONSAI_HTTP_BAD_REQUEST', message: () => 'Content-Length does not match the body' },
};

interface FastifyLikeError extends Error {
  code?: string;
  statusCode?: number;
  validation?: unknown;
}

/** Maps any error to a status and JSON body; unknown errors become a 500 that leaks nothing. */
export function toErrorResponse(err: unknown, context: { bodyLimit?: number; contentType?: string } = {}): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.status, body: bodyOf(err.code, err.message, err.details) };
  if (err instanceof BonsaiError) {
    const known = (HTTP_ERRORS as Record<string, number>)[err.code];
    const status = known ?? statusBySuffix(err.code);
    return { status, body: bodyOf(err.code, err.message, err.details) };
  }
  const e = err as FastifyLikeError;
  const fastify = e.code === undefined ? undefined : FASTIFY_ERRORS[e.code];
  if (fastify !== undefined) {
    const details: Record<string, unknown> = {};
    let message = fastify.message(e);
    if (fastify.code === 'BONSAI_HTTP_BODY_TOO_LARGE' && context.bodyLimit !== undefined) {
      details.limitBytes = context.bodyLimit;
      message += ` (${context.bodyLimit} bytes)`;
    }
    if (fastify.code === 'BONSAI_HTTP_UNSUPPORTED_MEDIA_TYPE') {
      details.contentType = context.contentType ?? null;
      message += `: ${context.contentType ?? '(none)'}; send an image (image/*), a WAV (audio/wav) or JSON (application/json)`;
    }
    return { status: HTTP_ERRORS[fastify.code], body: bodyOf(fastify.code, message, details) };
  }
  if (e.validation !== undefined) {
    return { status: 400, body: bodyOf('BONSAI_HTTP_BAD_REQUEST', e.message, {}) };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: bodyOf('BONSAI_HTTP_BAD_REQUEST', e.message, { cause: e.code ?? null }) };
  }
  return { status: 500, body: bodyOf('BONSAI_HTTP_INTERNAL', 'internal error; see the daemon log', {}) };
}

/**
 * Statuses of other areas' codes that are not the server's fault: a serving-only process asked
 * to change a registry it cannot (409), a trainer it forwards to that cannot be reached (502).
 */
const OTHER_ERROR_STATUS: Readonly<Record<string, number>> = {
  BONSAI_DAEMON_SERVER_READ_ONLY: 409,
  BONSAI_DAEMON_TRAINER_UNREACHABLE: 502,
};

/** Status of another area's code: those of `OTHER_ERROR_STATUS`, `*_NOT_FOUND` 404, `*_BAD_TRANSITION` (a lifecycle refusal) 409, else 500. */
function statusBySuffix(code: string): number {
  const listed = OTHER_ERROR_STATUS[code];
  if (listed !== undefined) return listed;
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (code.endsWith('_BAD_TRANSITION')) return 409;
  return 500;
}

function bodyOf(code: string, message: string, details: Readonly<Record<string, unknown>>): ErrorBody {
  return Object.keys(details).length === 0 ? { error: { code, message } } : { error: { code, message, details: { ...details } } };
}
