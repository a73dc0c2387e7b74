/** The live model and its hot swap. */
export { ModelHolder } from './holder.ts';
export type { HolderStatus, Lease, ModelHolderArgs, SwapOutcome, SwapResult } from './holder.ts';
export { shapeSize } from './types.ts';
export type { LoadedModel, ModelInput, ModelLoader } from './types.ts';
