/**
 * The http plugin: the HTTP API (daemon/server) on the live model, listening
 * where config `server` says. Its stop stops accepting connections, answers
 * what still arrives on open ones with `Connection: close` for a short grace
 * period, waits for the requests in flight and closes the idle connections
 * (daemon/server/drain.ts).
 */
import { drainAndClose, type ServerDeps } from '../server/index.ts';
import { listenHttp, preprocessors } from '../wiring.ts';
import type { DaemonContext, DaemonPlugin } from './context.ts';

/** The routes that differ between a daemon and a serving-only process. */
export type HttpRoutes = Pick<ServerDeps, 'registry' | 'artifacts' | 'updates' | 'status'>;

/** Adds the listening server (`http`); `routes` builds the registry, update and status routes from the parts started so far. */
export function httpPlugin(routes: (ctx: DaemonContext) => HttpRoutes): DaemonPlugin {
  return {
    name: 'http',
    async start(ctx) {
      const { config, log } = ctx;
      const deps: ServerDeps = {
        holder: ctx.get('holder'),
        metrics: ctx.metrics,
        token: ctx.token,
        tokenHint: `set the ${config.server.tokenEnv} environment variable (or server.tokenFile in the config) and restart`,
        limits: {
          bodyLimitBytes: config.server.bodyLimitBytes, requestTimeoutMs: config.server.requestTimeoutMs,
          maxConnections: config.server.maxConnections, maxInflightBodyBytes: config.server.maxInflightBodyBytes,
        },
        batching: { ...config.server.batching },
        preprocess: preprocessors(config),
        ...routes(ctx),
        paths: { stateDir: ctx.stateDir },
        onError: (err, context) => log.error('http.error', { ...context, error: err }),
        onRedacted: (err, context) => log.info('http.error_redacted', { ...context, error: err }),
      };
      const listening = await listenHttp(deps, config, log);
      ctx.add('http', listening);
      return async () => {
        const { drainMs, leftOpen, cut } = await drainAndClose(listening.app);
        if (cut > 0) log.warn('http.connections_cut', { cut, reason: 'requests that had not arrived whole or been answered by the close\'s deadline' });
        log.info('http.drained', { ms: drainMs, leftOpen, cut });
      };
    },
  };
}
