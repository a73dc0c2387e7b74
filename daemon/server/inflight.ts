/**
 * A cap on the bytes of request bodies in flight across all requests. Each
 * request with a body reserves its declared `Content-Length` (a chunked one
 * without it: the route's body limit) before the body is read, and gives it
 * back once answered, failed or aborted. A request that would push the total
 * over the cap is answered 503 `BONSAI_HTTP_BUSY` with `Retry-After` at once,
 * so concurrent uploads cannot grow the heap past it (`bodyLimitBytes` alone
 * bounds one request, not 1024 of them).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { httpError } from './errors.ts';

/** Seconds a refused client is told to wait (the bodies in flight are typically answered within it). */
export const BUSY_RETRY_AFTER_S = 1;

/** The running total of body bytes reserved by requests in flight. */
export interface InflightBodies {
  /** Bytes reserved now. */
  readonly bytes: number;
  /** The cap in bytes. */
  readonly capBytes: number;
}

/** Bytes a request will buffer: its Content-Length, or the route's limit for a chunked body; 0 without a body. */
function declaredBytes(request: FastifyRequest, routeLimit: number): number {
  if (request.method === 'GET' || request.method === 'HEAD') return 0;
  const length = request.headers['content-length'];
  if (length !== undefined) {
    const n = Number(length);
    // Node's parser rejects malformed lengths; over the route's limit fastify refuses it (413) before reading.
    return Number.isSafeInteger(n) && n > 0 && n <= routeLimit ? n : 0;
  }
  return request.headers['transfer-encoding'] === undefined ? 0 : routeLimit;
}

/** Adds the hooks to `app` (every route, before body parsing); the returned object reads the total. */
export function registerInflightBodyCap(app: FastifyInstance, capBytes: number, defaultBodyLimit: number): InflightBodies {
  let bytes = 0;
  const reserved = new WeakMap<FastifyRequest, number>();
  const release = (request: FastifyRequest): void => {
    const n = reserved.get(request);
    if (n === undefined) return;
    reserved.delete(request);
    bytes -= n;
  };
  app.addHook('onRequest', async (request, reply) => {
    const n = declaredBytes(request, request.routeOptions.bodyLimit ?? defaultBodyLimit);
    if (n === 0) return;
    if (bytes + n > capBytes) {
      reply.header('retry-after', String(BUSY_RETRY_AFTER_S));
      throw httpError('BONSAI_HTTP_BUSY', `the server holds ${bytes} bytes of request bodies in flight; this request's ${n} would pass the cap of ${capBytes} (server.maxInflightBodyBytes); retry after ${BUSY_RETRY_AFTER_S} s`, {
        inflightBytes: bytes, capBytes, requestBytes: n,
      });
    }
    bytes += n;
    reserved.set(request, n);
    // Whichever comes first: answered (onResponse), aborted by the client (onRequestAbort), or the
    // response closed any other way (a socket cut by the request timeout or a drain).
    reply.raw.once('close', () => release(request));
  });
  app.addHook('onResponse', async (request) => release(request));
  app.addHook('onRequestAbort', async (request) => release(request));
  return {
    get bytes() { return bytes; },
    capBytes,
  };
}
