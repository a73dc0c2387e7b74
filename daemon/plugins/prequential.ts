/** The prequential plugin: scores each arrival with the live model before any update trains on it (daemon/prequential-scorer.ts). */
import type { PrequentialWindow } from '../metrics/index.ts';
import { PrequentialScorer } from '../prequential-scorer.ts';
import { nothingToStop, type DaemonPlugin } from './context.ts';

/** Adds the scorer (`prequential`), which feeds `window` (`bonsai_prequential_accuracy_ratio`). */
export function prequentialPlugin(window: PrequentialWindow): DaemonPlugin {
  return {
    name: 'prequential',
    async start(ctx) {
      ctx.add('prequential', new PrequentialScorer({ holder: ctx.get('holder'), store: ctx.get('store'), window, log: ctx.log }));
      return nothingToStop;
    },
  };
}
