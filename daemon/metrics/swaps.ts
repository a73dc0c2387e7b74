/** Connects the model holder's swap events to the swap counter and the serving model info. */
import type { SwapResult } from '../serving/holder.ts';
import type { BonsaiMetrics } from './registry.ts';

/** An `onSwap` callback for `ModelHolder` that counts swaps and labels the served version. */
export function swapObserver(metrics: BonsaiMetrics): (result: SwapResult) => void {
  return (result) => {
    if (result.outcome === 'unchanged') return;
    metrics.modelSwaps.inc({ outcome: result.outcome });
    if (result.outcome === 'ok') metrics.setModelInfo('serving', result.servingVersion);
  };
}
