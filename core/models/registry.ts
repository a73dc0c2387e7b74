/**
 * The model registry: architecture name -> constructor. Saved models record their
 * spec, so loading rebuilds the same architecture from this map. Architectures
 * register themselves here (core/models/index.ts registers the built-in ones,
 * ds2 included), so this module imports no model and any model may import it.
 */
import { BonsaiError } from '../errors.ts';
import type { MaskedModel, ModelSpec } from './model.ts';

/** Builds a model of one architecture from its spec. */
export type ModelFactory = (spec: ModelSpec) => MaskedModel;

const factories = new Map<string, ModelFactory>();

/** Registers an architecture; registering a name again replaces its factory (so registration is idempotent). */
export function registerModel(arch: string, factory: ModelFactory): void {
  factories.set(arch, factory);
}

/** Architecture names registered so far, in registration order. */
export function registeredModels(): string[] {
  return [...factories.keys()];
}

/** Builds the model `spec` names; throws BONSAI_CORE_UNKNOWN_MODEL for an architecture never registered. */
export function createModel(spec: ModelSpec): MaskedModel {
  const factory = factories.get(spec.arch);
  if (!factory) {
    throw new BonsaiError('BONSAI_CORE_UNKNOWN_MODEL', `unknown model architecture "${spec.arch}"; known: ${registeredModels().join(', ')}`, { arch: spec.arch, known: registeredModels() });
  }
  return factory(spec);
}
