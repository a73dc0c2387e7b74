/**
 * Architecture options of each model (config `model.options`), composed from
 * core/models/options.ts, where each model states its options with their rules
 * and defaults. `model.options` holds the options of `model.name`; a key another
 * architecture has, or none has, is an unknown key that names the keys allowed
 * (config/schema.ts, `checkConsistency`). A test builds every model with every
 * option here and checks that each one changes the network.
 */
// config/ may import core/models/options.ts (zod only, no tfjs): the models own their options (eslint.config.js).
import { BUILTIN_MODELS, builtinModel, type ModelName, type ModelOption } from '../core/models/options.ts';

export { MODALITIES } from '../core/models/options.ts';

export { positiveIntList, type ModelOption } from '../core/models/options.ts';

/** The architectures `model.name` offers, as in the paper (sections 5.1 to 5.3). */
export const MODEL_NAMES = BUILTIN_MODELS.map((m) => m.name) as [ModelName, ...ModelName[]];

/** Options of each architecture of `MODEL_NAMES`, by name. */
export const MODEL_OPTIONS: Readonly<Record<string, Readonly<Record<string, ModelOption>>>> = Object.freeze(
  Object.fromEntries(BUILTIN_MODELS.map((m) => [m.name, m.options])));

/** The option keys that architecture `arch` accepts. */
export function modelOptionKeys(arch: string): string[] {
  return Object.keys(MODEL_OPTIONS[arch] ?? {});
}

/** Whether `arch` is a speech model (ds2), which reads recordings of any length rather than samples of one shape. */
export function isSpeechModel(arch: string): boolean {
  return builtinModel(arch)?.task === 'speech';
}
