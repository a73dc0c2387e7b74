/**
 * The fastify app of the daemon: `buildServer(deps)` wires the routes of
 * DESIGN.md ("HTTP") to injected dependencies and returns the app, not yet
 * listening (`await app.listen({ port, host })`). Every error answers JSON
 * `{ "error": { "code", "message" } }`; codes are in docs/errors-http.md.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { authorize } from '../auth.ts';
import { ServingMonitor } from '../metrics/monitor.ts';
import { registerAdmin } from './admin.ts';
import { registerArtifacts } from './artifacts.ts';
import { registerDrain } from './drain.ts';
import { toErrorResponse, type HttpErrorCode } from './errors.ts';
import { registerInflightBodyCap } from './inflight.ts';
import { registerPredict } from './predict.ts';
import { registerProbes } from './probes.ts';
import { PathRedactor, processRoots } from './redact.ts';
import type { ServerDeps, ServerLimits } from './types.ts';

/**
 * Default limits (as the config's `server` section): 16 MiB bodies, batches of 1024 samples, 30 s
 * to send a request, 1024 open connections, 256 MiB of bodies in flight.
 */
export const DEFAULT_LIMITS: ServerLimits = {
  bodyLimitBytes: 16 * 1024 * 1024, maxBatch: 1024, requestTimeoutMs: 30_000, maxConnections: 1024, maxInflightBodyBytes: 256 * 1024 * 1024,
};

/** How often Node checks open requests against the timeouts (its default, 30 s, would let a slow one live twice as long). */
function checkingInterval(requestTimeoutMs: number): number {
  return Math.max(100, Math.min(5_000, Math.floor(requestTimeoutMs / 4)));
}

/** What Node's HTTP parser reports before any route runs, in the JSON error shape of every other answer. */
const CLIENT_ERRORS: Record<string, { status: number; code: HttpErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'BONSAI_HTTP_REQUEST_TIMEOUT', message: 'the request did not arrive whole within the server\'s request timeout (server.requestTimeoutMs)' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'BONSAI_HTTP_HEADERS_TOO_LARGE', message: 'the request line and headers are larger than the server accepts (16 KiB)' },
};

/** Answers a request Node's HTTP parser refused (malformed, too slow, headers too large), then closes the connection. */
function clientErrorHandler(err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[err.code ?? ''];
  const { status, code, message } = known ?? { status: 400, code: 'BONSAI_HTTP_BAD_REQUEST' as const, message: `the request is not valid HTTP/1.1: ${err.message}` };
  const body = JSON.stringify({ error: { code, message, details: { parser: err.code ?? 'unknown' } } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Builds the HTTP app; call `ready()` or `listen()` on the result. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = Fastify({
    logger: false, bodyLimit: limits.bodyLimitBytes, return503OnClosing: true,
    // A request must arrive whole within the timeout (slow-body and slow-header clients are closed), and the
    // number of open connections is capped: neither can pile up until the process runs out of descriptors.
    requestTimeout: limits.requestTimeoutMs,
    clientErrorHandler,
    http: { headersTimeout: Math.min(limits.requestTimeoutMs, 60_000), connectionsCheckingInterval: checkingInterval(limits.requestTimeoutMs) },
  });
  app.server.maxConnections = limits.maxConnections;
  // First, so that it applies to every route: while stopping, each answer says `Connection: close` (drain.ts).
  registerDrain(app);
  // Before any body is read: the bodies of all requests together stay under the cap (inflight.ts).
  const inflight = registerInflightBodyCap(app, limits.maxInflightBodyBytes, limits.bodyLimitBytes);
  deps.metrics.sources.inflightBodyBytes = () => inflight.bytes;

  const monitor = deps.monitor ?? new ServingMonitor();
  deps.metrics.sources.drift = () => monitor.driftScores();
  deps.metrics.sources.predictionClasses = () => monitor.classRatios();

  // Answers to requests without the token name no server path (redact.ts); the log has them whole.
  const redactor = new PathRedactor({ ...processRoots(), ...deps.paths });
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorResponse(err, { bodyLimit: request.routeOptions.bodyLimit, contentType: request.headers['content-type'] });
    const context = { method: request.method, url: request.url, status };
    // 503 (no model yet, not ready, shutting down) is a state the client is told about and retries, not a fault:
    // reported, every probe and predict of a starting daemon would flood the error log.
    const reported = status >= 500 && status !== 503;
    if (reported) deps.onError?.(err, context);
    if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
    let sent: unknown = body;
    if (!authorize(request.headers.authorization, deps.token).ok) {
      const redacted = redactor.value(body);
      sent = redacted.value;
      if (redacted.changed && !reported) deps.onRedacted?.(err, context);
    }
    return reply.code(status).type('application/json; charset=utf-8').send(sent);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({
    error: { code: 'BONSAI_HTTP_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
  }));

  registerProbes(app, deps, redactor);
  if (deps.artifacts) registerArtifacts(app, deps.artifacts);
  registerAdmin(app, deps, redactor);
  // Own scope: the image and WAV body parsers apply to predict only.
  void app.register(async (scope) => {
    registerPredict(scope, deps, limits, monitor);
  });
  return app;
}
