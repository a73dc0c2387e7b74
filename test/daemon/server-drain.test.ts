import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { DRAIN_GRACE_MS, drainAndClose } from '../../daemon/server/index.ts';
import { fakeModel, harness } from './server-fakes.ts';

const BODY = Buffer.from([1, 0, 0, 0]);

/** What one request got: a full response's status and `Connection` header, or its error's code. */
type Outcome = { status: number; connection: string | undefined } | { error: string };

/** One POST /v1/predict through a Node agent with keepAlive. */
function postWithAgent(port: number, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/predict', agent, headers: { 'content-type': 'image/png', 'content-length': BODY.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end(BODY);
  });
}

/** One POST /v1/predict through fetch (undici: a pool of keep-alive connections). */
async function postWithFetch(port: number): Promise<Outcome> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: BODY });
    await res.arrayBuffer();
    return { status: res.status, connection: res.headers.get('connection') ?? undefined };
  } catch (err) {
    const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
    return { error: cause?.code === 'ECONNREFUSED' ? 'ECONNREFUSED' : `${cause?.code ?? 'unknown'} (${cause?.message ?? (err as Error).message})` };
  }
}

/** What the clients saw while the server stopped under them. */
interface LoadOutcomes {
  /** Full responses by status. */
  statuses: Record<number, number>;
  /** Full responses that said `Connection: close`. */
  closing: number;
  /** Connections refused once the server no longer listened: the client knows the request was never sent. */
  refused: number;
  /** Requests that failed on their connection (reset, hang up): the client cannot tell whether they ran. */
  failed: string[];
  /** How long the stop took (ms). */
  stopMs: number;
}

/**
 * Runs `clients` clients (half Node agents with keepAlive, half fetch) that each send
 * POST /v1/predict in a loop, stops the server with `stop` once their connections are
 * open and reused, and lets them run until it has returned.
 */
async function stopUnderLoad(app: FastifyInstance, stop: () => Promise<unknown>, clients: number): Promise<LoadOutcomes> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  let lastConnection = performance.now();
  app.server.on('connection', () => (lastConnection = performance.now()));
  const out: LoadOutcomes = { statuses: {}, closing: 0, refused: 0, failed: [], stopMs: 0 };
  let stopped = false;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (!stopped) {
        const got = i % 2 === 0 ? await postWithAgent(port, agent) : await postWithFetch(port);
        if ('status' in got) {
          out.statuses[got.status] = (out.statuses[got.status] ?? 0) + 1;
          if (got.connection === 'close') out.closing += 1;
        } else if (got.error === 'ECONNREFUSED') {
          out.refused += 1;
          await sleep(5);
        } else {
          out.failed.push(`${i % 2 === 0 ? 'agent' : 'fetch'}: ${got.error}`);
        }
      }
    } finally {
      agent.destroy();
    }
  });
  // Busy, on connections that are kept: fetch's pool opens connections while it grows, and a
  // connection opened in the instant the server stops listening is another race than this one.
  await sleep(300);
  for (const t = performance.now(); performance.now() - lastConnection < 150 && performance.now() - t < 3_000;) await sleep(25);
  const t0 = performance.now();
  await stop();
  out.stopMs = performance.now() - t0;
  stopped = true;
  await Promise.all(loops);
  return out;
}

test('stopping under keep-alive load fails no request: each gets a full response, and the stop is quick', async () => {
  // On the old code (fastify's close alone) about one request per open connection failed with ECONNRESET.
  for (let round = 0; round < 3; round++) {
    const { app } = await harness({ model: (v) => fakeModel(v, { predictDelayMs: 2 }) });
    const out = await stopUnderLoad(app, () => drainAndClose(app), 8);
    const full = Object.values(out.statuses).reduce((a, b) => a + b, 0);
    assert.deepEqual(out.failed, [], `round ${round}: requests failed on their connection (${JSON.stringify(out)})`);
    assert.ok(full > 8, `round ${round}: the clients were not busy (${JSON.stringify(out)})`);
    assert.deepEqual(Object.keys(out.statuses).filter((s) => s !== '200' && s !== '503'), [], JSON.stringify(out));
    // Each busy connection got its last answer with Connection: close instead of being closed under it.
    assert.ok(out.closing >= 1, `round ${round}: no answer said Connection: close (${JSON.stringify(out)})`);
    // Busy clients close their connections after one more answer; the grace period is the bound.
    assert.ok(out.stopMs < DRAIN_GRACE_MS + 1_000, `round ${round}: the stop took ${Math.round(out.stopMs)} ms`);
  }
});

/** Opens a raw connection; `text()` is what it received so far, `closed` resolves with the time of its close. */
function open(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.on('close', () => done(performance.now())));
    socket.on('data', (b) => (received += b.toString('utf8')));
    socket.on('error', () => { /* seen as the close */ });
    socket.once('connect', () => resolve({ socket, text: () => received, closed }));
    socket.once('error', reject);
  });
}

/** Waits until `text()` holds a whole response (headers and the Content-Length body). */
async function response(conn: { text: () => string }, timeoutMs = 5_000): Promise<string> {
  for (const t = performance.now(); performance.now() - t < timeoutMs; await sleep(10)) {
    const text = conn.text();
    const end = text.indexOf('\r\n\r\n');
    const length = /content-length: (\d+)/i.exec(text);
    if (end >= 0 && length !== null && text.length >= end + 4 + Number(length[1])) return text;
  }
  throw new Error(`no whole response within ${timeoutMs} ms: ${JSON.stringify(conn.text())}`);
}

test('a stopping server finishes the request in flight, says Connection: close and not ready, and closes an idle connection after the grace period', async () => {
  const graceMs = 400;
  const { app } = await harness({ model: (v) => fakeModel(v, { predictDelayMs: 300 }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const sockets: Socket[] = [];
  try {
    const idle = await open(port);
    const busy = await open(port);
    const probe = await open(port);
    sockets.push(idle.socket, busy.socket, probe.socket);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await response(idle), /^HTTP\/1\.1 200 [^]*connection: keep-alive/i);
    busy.socket.write(`POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${BODY.length}\r\n\r\n`);
    busy.socket.write(BODY);
    await sleep(50);

    const t0 = performance.now();
    const stopping = drainAndClose(app, graceMs);
    await sleep(50);
    probe.socket.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    const ready = await response(probe);
    assert.match(ready, /^HTTP\/1\.1 503 /);
    assert.match(ready, /connection: close/i);
    assert.match(ready, /BONSAI_HTTP_NOT_READY/);
    assert.ok(await probe.closed - t0 < graceMs, 'the probe\'s connection stayed open after its Connection: close answer');
    // No new connection once stopping.
    await assert.rejects(open(port), { code: 'ECONNREFUSED' });

    const answer = await response(busy);
    assert.match(answer, /^HTTP\/1\.1 200 /, 'the request in flight did not finish');
    assert.match(answer, /connection: close/i);
    await busy.closed;

    const result = await stopping;
    const stopMs = performance.now() - t0;
    assert.ok(await idle.closed - t0 >= graceMs - 20, 'the idle connection was closed before the grace period ended');
    assert.ok(stopMs < graceMs + 1_000, `the stop took ${Math.round(stopMs)} ms`);
    assert.equal(result.leftOpen, 1, JSON.stringify(result));
    assert.equal(idle.text().split('HTTP/1.1').length - 1, 1, 'the idle connection received something else');
  } finally {
    sockets.forEach((s) => s.destroy());
    await app.close();
  }
});

test('a server with no connection open stops at once; one not listening closes as fastify does; a second stop waits for the first', async () => {
  const { app } = await harness();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const t0 = performance.now();
  const [a, b] = await Promise.all([drainAndClose(app), drainAndClose(app)]);
  assert.ok(performance.now() - t0 < DRAIN_GRACE_MS / 2, `took ${Math.round(performance.now() - t0)} ms`);
  assert.equal(a, b);
  assert.equal(a.leftOpen, 0);

  const injected = await harness();
  const res = await injected.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.headers.connection, 'keep-alive');
  assert.deepEqual(await drainAndClose(injected.app), { drainMs: 0, leftOpen: 0, cut: 0 });
});

test('a connection that never completes its request cannot hold the stop: silent ones close with the grace period, a stalled request at the request timeout, while a slow upload within it finishes', { timeout: 20_000 }, async () => {
  // Node's close leaves alone a connection that has sent nothing or part of a request, and stops
  // the timer that would have ended it: one such client held a stop until the supervisor's SIGKILL.
  const { app } = await harness({ limits: { requestTimeoutMs: 2000 } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const t0 = { at: 0 };
  const open = async (data: string): Promise<{ socket: Socket; closed: Promise<number>; answer: () => string }> => {
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    let got = '';
    s.on('data', (b: Buffer) => { got += b.toString(); });
    if (data) s.write(data);
    s.on('error', () => undefined);
    return { socket: s, closed: new Promise((r) => s.once('close', () => r(performance.now() - t0.at))), answer: () => got };
  };
  const silent = [await open(''), await open('POST /v1/predict HTTP/1.1\r\nHost: x\r\n')];
  // Headers whole, the body stalled: a request being received, held to the request timeout.
  const stalled = await open('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n\x01');
  // A legitimate slow upload: its last bytes arrive 900 ms into the stop, within the request timeout.
  const slow = await open('POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 4\r\n\r\n\x01\x00');
  await sleep(100);
  t0.at = performance.now();
  const stopping = drainAndClose(app, 200, 500);
  await sleep(900);
  slow.socket.write('\x00\x00');
  const result = await stopping;
  const ms = performance.now() - t0.at;
  assert.ok(ms >= 2000 && ms < 200 + 2000 + 1000, `the stop took ${Math.round(ms)} ms (the request timeout is 2 s)`);
  assert.equal(result.cut, 1, 'the stalled request, at the deadline');
  for (const s of silent) assert.ok(await s.closed < 800, 'a silent connection is closed with the grace period');
  assert.ok(await stalled.closed >= 2000);
  await slow.closed;
  assert.match(slow.answer(), /^HTTP\/1\.1 200 /, 'the slow upload was answered');
  for (const s of [...silent, stalled]) assert.doesNotMatch(s.answer(), /^HTTP\/1\.1 200 /);
});
