/**
 * The registry plugin: opens `<stateDir>/models` for writing, which repairs
 * staging leftovers, CURRENT and states (daemon/registry), logs a champion it
 * restored or lost, and closes as rejected every candidate whose gate never ran.
 */
import { join } from 'node:path';
import { openRegistry } from '../registry/index.ts';
import { reportModel } from '../metrics/index.ts';
import { nothingToStop, type DaemonPlugin } from './context.ts';

/** Why a candidate found at start-up is rejected. */
const ABANDONED_REASON = 'abandoned: the daemon stopped before the gate decided';

/** Opens and recovers the registry, then reports the champion in the model metrics. */
export function registryPlugin(): DaemonPlugin {
  return {
    name: 'registry',
    async start(ctx) {
      const { stateDir, log, metrics } = ctx;
      const registry = await openRegistry(join(stateDir, 'models'));
      const lost = registry.recovery;
      if (lost !== null) log.error(lost.version !== null ? 'registry.champion_restored' : 'registry.champion_lost', { ...lost });
      for (const v of await registry.list()) {
        if (v.manifest.state !== 'candidate') continue;
        await registry.reject(v.version, ABANDONED_REASON);
        log.warn('registry.candidate_abandoned', { version: v.version });
      }
      const champion = await registry.current();
      if (champion) reportModel(metrics, 'champion', champion.manifest);
      ctx.add('registry', registry);
      return nothingToStop;
    },
  };
}
