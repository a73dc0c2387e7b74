/**
 * Stopping the HTTP server without failing a request on a keep-alive connection.
 *
 * fastify's `close()` calls Node's `server.close()`, which (Node >= 19) destroys every idle
 * keep-alive connection at once. A client that has just sent its next request on such a
 * connection sees ECONNRESET or "socket hang up" and cannot tell whether a POST ran, so
 * neither Node's http.Agent nor undici retries it: about one failed request per open
 * connection when a daemon stops under load. HTTP/1.1 lets only the server end this race
 * without it, by saying `Connection: close` in a response, after which the client does not
 * reuse the connection. So `drainAndClose`:
 *
 * 1. marks the app draining: from now every response says `Connection: close` (an `onSend`
 *    hook, so also the responses of requests already in flight), and Node closes the
 *    connection once it is sent;
 * 2. stops accepting connections (a new one is refused, which a client knows was never sent),
 *    keeping the open ones;
 * 3. waits until they have all closed, or at most `graceMs`: a busy client sends its next
 *    request within that time, gets its answer and `Connection: close`;
 * 4. closes the app (fastify's `close`): a request still arriving is answered 503 with
 *    `Connection: close`, those in flight finish, and the connections left, idle for the whole
 *    grace period, are closed. Only a client that sends its first request after that long a
 *    pause in that very instant can still meet a closed connection;
 * 5. closes, at the end of the grace period, every connection with no request being answered,
 *    including one that has sent nothing or only part of its headers: Node's close leaves those
 *    alone and stops the timer that enforces the request timeouts, so one socket opened and
 *    left silent by anyone who can reach the port held a stop until the supervisor's SIGKILL;
 * 6. cuts a connection whose request is still being received or answered after the deadline:
 *    the server's request timeout (`server.requestTimeoutMs`, the time a request has to arrive
 *    whole), at least `DRAIN_DEADLINE_MS` and at most `DRAIN_MAX_DEADLINE_MS` (within the stop
 *    timeouts of the deployments: Kubernetes' grace period, systemd's TimeoutStopSec). A
 *    legitimate slow upload or a slow answer within it finishes.
 *
 * A host name that resolves to several addresses makes fastify listen on each; this drains the
 * first only (fastify closes the others when the first has closed, as before).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** The longest a stopping server waits for its keep-alive connections to close after a last answer (ms). */
export const DRAIN_GRACE_MS = 1_500;

/** The least time the close waits for the requests still in flight before it cuts their connections (ms); the request timeout if longer. */
export const DRAIN_DEADLINE_MS = 5_000;
/** The longest it waits for them, whatever the request timeout (ms). */
export const DRAIN_MAX_DEADLINE_MS = 20_000;

/** Each app's open connections and, for each, how many of its requests are being received or answered. */
const connections = new WeakMap<FastifyInstance, Map<Socket, number>>();

/** The apps that are draining; `registerDrain`'s hook reads it. */
const draining = new WeakSet<FastifyInstance>();
/** The drain of each app, so that a second call waits for the first. */
const drains = new WeakMap<FastifyInstance, Promise<DrainResult>>();

/** Adds the hook that makes each answer of a draining app say `Connection: close`; `buildServer` calls it before any route. */
export function registerDrain(app: FastifyInstance): void {
  const open = new Map<Socket, number>();
  connections.set(app, open);
  app.server.on('connection', (socket: Socket) => {
    open.set(socket, 0);
    socket.once('close', () => open.delete(socket));
  });
  // 'request' comes once a request's headers have arrived; its answer's 'close', when it is sent or the connection ends.
  app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    if (open.has(socket)) open.set(socket, (open.get(socket) ?? 0) + 1);
    response.once('close', () => {
      if (open.has(socket)) open.set(socket, Math.max(0, (open.get(socket) ?? 1) - 1));
    });
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining.has(app)) reply.header('connection', 'close');
    done(null, payload);
  });
}

/** True once `drainAndClose(app)` has begun. */
export function isDraining(app: FastifyInstance): boolean {
  return draining.has(app);
}

/** What `drainAndClose` did. */
export interface DrainResult {
  /** Milliseconds until every connection had closed, or the grace period if some were left. */
  drainMs: number;
  /** Connections still open after the grace period (idle ones are then closed; busy ones finish). */
  leftOpen: number;
  /** Connections cut at the deadline (a request that had not arrived or been answered by then). */
  cut: number;
}

/** The number of open connections of `app` (counted by `registerDrain`'s connection events). */
function openConnections(app: FastifyInstance): number {
  return connections.get(app)?.size ?? 0;
}

/**
 * Closes `app` (listening or not) as the module's doc says: it takes at most `graceMs` more
 * than the requests in flight, and at most `graceMs` plus the deadline (the request timeout, at
 * least `minDeadlineMs`, at most `DRAIN_MAX_DEADLINE_MS`) in all. A second call returns the first one's promise.
 */
export function drainAndClose(app: FastifyInstance, graceMs: number = DRAIN_GRACE_MS, minDeadlineMs: number = DRAIN_DEADLINE_MS): Promise<DrainResult> {
  let drain = drains.get(app);
  if (drain === undefined) {
    // Node's request timeout (fastify's requestTimeout, server.requestTimeoutMs): 0 when off.
    const deadlineMs = Math.min(DRAIN_MAX_DEADLINE_MS, Math.max(minDeadlineMs, app.server.requestTimeout || 0));
    drain = drainThenClose(app, graceMs, deadlineMs);
    drains.set(app, drain);
  }
  return drain;
}

/** fastify's close, but at most `deadlineMs`: then every connection left is cut; resolves with how many. */
async function closeWithin(app: FastifyInstance, deadlineMs: number): Promise<number> {
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
  const first = await Promise.race([closing.then(() => 'closed' as const), deadline]);
  clearTimeout(timer);
  if (first === 'closed') return 0;
  const cut = openConnections(app);
  app.server.closeAllConnections();
  await closing;
  return cut;
}

async function drainThenClose(app: FastifyInstance, graceMs: number, deadlineMs: number): Promise<DrainResult> {
  const t0 = performance.now();
  const server = app.server;
  // Right after a poll phase, in which Node accepted the connections the kernel had completed: one still
  // queued when the listening socket closes is reset, not refused (in the test's load, a connection that
  // fetch's pool opened then failed in about one stop in 25 when it closed at once, none in 160 so).
  await new Promise((resolve) => setImmediate(resolve));
  draining.add(app);
  if (!server.listening) {
    const cut = await closeWithin(app, deadlineMs);
    return { drainMs: 0, leftOpen: 0, cut };
  }
  // net.Server's close, not http.Server's: that one would first destroy the idle connections.
  // 'close' is emitted once the last connection has ended; fastify's close below closes again,
  // which is harmless (Node emits 'close' again, and fastify takes ERR_SERVER_NOT_RUNNING as done).
  const allClosed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  NetServer.prototype.close.call(server);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  await Promise.race([allClosed, graceOver]);
  clearTimeout(timer);
  const drainMs = Math.round(performance.now() - t0);
  const leftOpen = openConnections(app);
  // The connections with no request being received or answered (idle, silent, or with part of
  // their headers) are closed now; those with one get until the deadline.
  for (const [socket, requests] of connections.get(app) ?? []) if (requests === 0) socket.destroy();
  const cut = await closeWithin(app, deadlineMs);
  return { drainMs, leftOpen, cut };
}
