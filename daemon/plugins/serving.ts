/**
 * The serving plugin: the `ModelHolder` that loads, verifies, warms and
 * hot-swaps registry versions (daemon/serving), with each swap logged and
 * measured. Its stop waits for the requests in flight and frees the models.
 */
import { fallbackOrder } from '../registry/index.ts';
import { ModelHolder, type ModelLoader, type SwapResult } from '../serving/index.ts';
import { reportModel, swapObserver } from '../metrics/index.ts';
import { preprocessingOfManifest, registryLoader } from '../serving/loader.ts';
import { preprocessingDifferences } from '../wiring.ts';
import type { Modality } from '../../pipelines/types.ts';
import type { DaemonContext, DaemonPlugin } from './context.ts';

/** Options of `servingPlugin`. */
export interface ServingPluginOptions {
  /** Serves the first model, once the holder is in the context. */
  serveFirst: (ctx: DaemonContext) => Promise<void>;
  /** Wraps the registry's loader (a server that follows a trainer over HTTP downloads the version first). */
  wrapLoader?: (load: ModelLoader) => ModelLoader;
  /** Called after each successful swap, once it is logged. Must not throw. */
  onSwapped?: (result: SwapResult, ctx: DaemonContext) => void;
}

/** Logs and measures each swap, and reports the served version's size and quality (`role="serving"`). */
function swapReporter(ctx: DaemonContext, onSwapped: ServingPluginOptions['onSwapped']): (result: SwapResult) => void {
  const { log, metrics } = ctx;
  const observe = swapObserver(metrics);
  return (r) => {
    observe(r);
    if (r.outcome === 'ok') {
      log.info('model.swapped', { version: r.version, previous: r.previousVersion, seconds: Math.round(r.seconds * 1000) / 1000 });
      // The champion's size and quality may differ from the served version's during a rollout.
      ctx.get('registry').get(r.version).then(
        (v) => {
          reportModel(metrics, 'serving', v.manifest);
          // Requests are decoded as the version's samples were; a config that says otherwise is worth a word,
          // since files ingested under it are decoded differently from what the model learned.
          const extra = v.manifest.extra as Record<string, unknown> | undefined;
          const preprocessing = preprocessingOfManifest(extra);
          const differ = preprocessingDifferences(preprocessing, ctx.config, (extra?.modality as Modality | undefined) ?? ctx.config.model.modality);
          if (differ.length > 0) log.warn('model.preprocessing_differs', { version: r.version, fields: differ, model: preprocessing, reason: `version ${r.version} was trained under other ${differ.join(', ')} than this process's config; predictions decode requests by the version's settings, and files ingested now are decoded by the config` });
        },
        (error: unknown) => log.warn('model.report_failed', { version: r.version, error }));
      onSwapped?.(r, ctx);
    } else if (r.outcome === 'failed') {
      log.error('model.swap_failed', { version: r.version, serving: r.servingVersion, error: r.error });
    }
  };
}

/** Adds the holder (`holder`) on the registry's versions, then serves the first model. */
export function servingPlugin(options: ServingPluginOptions): DaemonPlugin {
  return {
    name: 'serving',
    async start(ctx) {
      const { config, log } = ctx;
      const load = registryLoader(ctx.get('registry'), config.model.modality, { sparse: config.server.sparseInference });
      const holder = new ModelHolder({
        loader: options.wrapLoader ? options.wrapLoader(load) : load,
        onSwap: swapReporter(ctx, options.onSwapped),
        onDispose: (version, error) => (error ? log.warn('model.dispose_failed', { version, error }) : log.debug('model.disposed', { version })),
      });
      ctx.add('holder', holder);
      await options.serveFirst(ctx);
      return async () => holder.close();
    },
  };
}

/**
 * Serves the champion; when it cannot be served (failed checksums: `BONSAI_DAEMON_MODEL_CORRUPT`),
 * the newest intact earlier champion instead, logged as an error and counted. CURRENT is left as it is.
 */
export async function serveChampion(ctx: DaemonContext): Promise<void> {
  const { log, metrics } = ctx;
  const registry = ctx.get('registry');
  const holder = ctx.get('holder');
  const champion = await registry.current();
  if (!champion) return;
  const first = await holder.swapTo(champion.version);
  if (first.outcome !== 'failed') return;
  const tried: number[] = [];
  for (const fallback of await fallbackOrder(registry, champion.version)) {
    tried.push(fallback);
    if ((await holder.swapTo(fallback)).outcome !== 'ok') continue;
    log.error('serving.champion_fallback', { champion: champion.version, version: fallback, error: first.error });
    metrics.championFallbacks.inc({ use: 'serving' });
    return;
  }
  log.error('serving.no_champion', { champion: champion.version, tried, error: first.error });
}
