/** Probes and read-only state: `/healthz`, `/readyz`, `/v1/status`, `/metrics`. */
import type { FastifyInstance } from 'fastify';
import { authorize } from '../auth.ts';
import { isDraining } from './drain.ts';
import { httpError } from './errors.ts';
import type { PathRedactor } from './redact.ts';
import type { ServerDeps } from './types.ts';

/** Registers the probe and state routes; `redactor` takes the server paths out of the status of a request without the token. */
export function registerProbes(app: FastifyInstance, deps: ServerDeps, redactor: PathRedactor): void {
  const { holder, metrics } = deps;
  const started = Date.now();

  // Alive: the event loop answers. Says nothing about the model.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Ready: a model is loaded and warm (the holder installs a model only after its warm-up), and the server is not stopping.
  app.get('/readyz', async () => {
    const status = holder.status();
    if (!holder.ready || isDraining(app)) {
      const why = status.closed || isDraining(app) ? 'the server is shutting down' : status.swapping ? 'the first model is loading' : 'no model is loaded';
      throw httpError('BONSAI_HTTP_NOT_READY', `not ready: ${why}`, { swapping: status.swapping, closed: status.closed });
    }
    return { status: 'ready', version: status.version };
  });

  app.get('/v1/status', async (request) => {
    const daemon = await deps.status.status();
    const status = { ...daemon, uptimeSeconds: Math.round((Date.now() - started) / 1000), serving: holder.status() };
    if (authorize(request.headers.authorization, deps.token).ok) return status;
    // Without the token: no state directory, and the paths in messages (a failed update's, a swap's) shortened.
    const rest: Record<string, unknown> = { ...status };
    delete rest.stateDir;
    return redactor.value(rest).value;
  });

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.expose();
    return reply.type(contentType).send(body);
  });
}
