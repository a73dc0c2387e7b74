/**
 * Admin routes: list versions, promote, roll back, start an update. The
 * mutating ones need the bearer token. Promote and rollback load and warm the
 * target *before* the registry records it, so `models/CURRENT` never names a
 * version this server could not serve; they run one at a time.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorize } from '../auth.ts';
import type { ModelHolder, SwapResult } from '../serving/holder.ts';
import { httpError } from './errors.ts';
import { excerptKeys } from './excerpt.ts';
import type { PathRedactor } from './redact.ts';
import type { ServerDeps } from './types.ts';

/** Bodies of the admin routes are tiny. */
const ADMIN_BODY_LIMIT = 64 * 1024;

/** Longest accepted update reason. */
const MAX_REASON = 200;

/** Shown when no token is configured. */
export const DEFAULT_TOKEN_HINT = 'set the BONSAI_TOKEN environment variable (or server.tokenFile in the config) and restart';

/** The `onRequest` hook of the mutating routes: 403 without a configured token, 401 without the right one. */
function tokenGuard(deps: Pick<ServerDeps, 'token' | 'tokenHint'>): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const verdict = authorize(request.headers.authorization, deps.token);
    if (verdict.ok) return;
    if (verdict.reason === 'disabled') {
      throw httpError('BONSAI_HTTP_MUTATIONS_DISABLED', `mutating routes are disabled because no API token is configured: ${deps.tokenHint ?? DEFAULT_TOKEN_HINT}; then send "Authorization: Bearer <token>"`);
    }
    reply.header('www-authenticate', 'Bearer realm="bonsai"');
    const why = { missing: 'no Authorization header', malformed: 'the Authorization header is not "Bearer <token>"', mismatch: 'the bearer token is wrong' }[verdict.reason];
    throw httpError('BONSAI_HTTP_UNAUTHORIZED', `${why}; mutating routes need "Authorization: Bearer <token>"`, { reason: verdict.reason });
  };
}

/** Runs the functions it is given one at a time, in call order; a failure does not stop the next. */
function serializer(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** The served classifier's labels in class order (what `class` and `scores=array` index); null for none or a speech model. */
function servedLabels(holder: ModelHolder): readonly string[] | null {
  const lease = holder.tryAcquire();
  if (lease === null) return null;
  try {
    return lease.model.transcribe ? null : lease.model.labels;
  } finally {
    lease.release();
  }
}

/** Registers `/v1/models`, promote, rollback and updates. */
export function registerAdmin(app: FastifyInstance, deps: ServerDeps, redactor: PathRedactor): void {
  const { holder, registry } = deps;
  const requireToken = tokenGuard(deps);
  const oneAtATime = serializer();

  const swapOrThrow = async (version: number): Promise<SwapResult> => {
    const result = await holder.swapTo(version);
    if (result.outcome === 'failed') {
      throw httpError('BONSAI_HTTP_SWAP_FAILED', result.error?.message ?? `swap to version ${version} failed`, { ...result.error?.details }, result.error);
    }
    return result;
  };

  /** Puts the previously served version back after the registry refused a change. */
  const restore = async (swap: SwapResult): Promise<void> => {
    if (swap.outcome === 'ok' && swap.previousVersion !== null) await holder.swapTo(swap.previousVersion);
  };

  app.get('/v1/models', async (request) => {
    const listing = await registry.list();
    const answer = { serving: holder.version, labels: servedLabels(holder), current: listing.current, previous: listing.previous, versions: listing.versions };
    // Without the token, the paths in the versions' reasons (a swap's error names the model's folder) are shortened.
    return authorize(request.headers.authorization, deps.token).ok ? answer : redactor.value(answer).value;
  });

  app.post<{ Params: { version: string } }>('/v1/models/:version/promote', { onRequest: requireToken, bodyLimit: ADMIN_BODY_LIMIT }, async (request) => {
    const version = parseVersion(request.params.version);
    return oneAtATime(async () => {
      const listing = await registry.list();
      if (!listing.versions.some((v) => v.version === version)) {
        throw httpError('BONSAI_HTTP_MODEL_NOT_FOUND', `model version ${version} is not in the registry`, { version, available: listing.versions.map((v) => v.version).slice(-20) });
      }
      registry.assertChangeable?.();
      const swap = await swapOrThrow(version);
      let record: Record<string, unknown>;
      try {
        record = await registry.promote(version);
      } catch (err) {
        await restore(swap);
        throw err;
      }
      return { version, previousVersion: swap.previousVersion, swap: { outcome: swap.outcome, seconds: swap.seconds }, registry: record };
    });
  });

  app.post('/v1/rollback', { onRequest: requireToken, bodyLimit: ADMIN_BODY_LIMIT }, async () => oneAtATime(async () => {
    const listing = await registry.list();
    if (listing.previous === null) {
      throw httpError('BONSAI_HTTP_NO_PREVIOUS_VERSION', `there is no previous version to roll back to (current: ${listing.current ?? 'none'})`, { current: listing.current });
    }
    registry.assertChangeable?.();
    const swap = await swapOrThrow(listing.previous);
    let record: { version: number; [key: string]: unknown };
    try {
      record = await registry.rollback();
    } catch (err) {
      await restore(swap);
      throw err;
    }
    // The registry has the last word on the target (it may have moved meanwhile).
    const final = record.version === listing.previous ? swap : await swapOrThrow(record.version);
    return { version: record.version, previousVersion: swap.previousVersion, swap: { outcome: final.outcome, seconds: final.seconds }, registry: record };
  }));

  app.post('/v1/updates', { onRequest: requireToken, bodyLimit: ADMIN_BODY_LIMIT }, async (request, reply) => {
    const reason = parseReason(request.body);
    const result = await deps.updates.requestUpdate(reason);
    if (!result.accepted) {
      throw httpError('BONSAI_HTTP_UPDATE_REFUSED', result.message ?? `update not started: ${result.state}`, { state: result.state });
    }
    return reply.code(202).send(result);
  });
}

function parseVersion(raw: string): number {
  const version = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(version)) {
    throw httpError('BONSAI_HTTP_BAD_VERSION', `model version must be a non-negative integer, got ${JSON.stringify(raw)}`, { version: raw });
  }
  return version;
}

function parseReason(body: unknown): string {
  if (body === undefined || body === null) return 'manual';
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw httpError('BONSAI_HTTP_BAD_REQUEST', 'body must be empty or a JSON object { "reason"?: string }');
  }
  const record = body as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => k !== 'reason');
  if (extra.length > 0) {
    const keys = excerptKeys(extra);
    throw httpError('BONSAI_HTTP_BAD_REQUEST', `unknown key(s) ${keys.text}; allowed: reason`, { unknownKeys: keys.shown, unknownCount: keys.count });
  }
  if (record.reason === undefined) return 'manual';
  if (typeof record.reason !== 'string' || record.reason.length === 0 || record.reason.length > MAX_REASON) {
    throw httpError('BONSAI_HTTP_BAD_REQUEST', `"reason" must be a string of 1 to ${MAX_REASON} characters`);
  }
  return record.reason;
}
