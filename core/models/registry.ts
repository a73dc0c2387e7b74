/**
 * The model registry: architecture name -> what it is (core/models/options.ts:
 * task, modalities, options with their defaults) and its constructor. Saved
 * models record their spec, so loading rebuilds the same architecture from this
 * map. Architectures register themselves here (core/models/index.ts registers the
 * built-in ones, ds2 included), so this module imports no model and any model may
 * import it.
 */
import { BonsaiError } from '../errors.ts';
import type { MaskedModel, ModelSpec } from './model.ts';
import type { ModelInfo } from './options.ts';

/** Builds a model of one architecture from its spec. */
export type ModelFactory = (spec: ModelSpec) => MaskedModel;

/** A registered architecture: its info, its factory, and what its task needs of it. */
export interface RegisteredModel extends ModelInfo {
  /** Builds a model from its spec. */
  readonly create: ModelFactory;
  /** Input frames per output frame (a speech model's time stride; 1 for the others). */
  readonly timeStride: number;
}

const models = new Map<string, RegisteredModel>();

/**
 * Registers an architecture with its info and factory; registering a name again
 * replaces it (so registration is idempotent).
 */
export function registerModel(info: ModelInfo, create: ModelFactory, extra: { timeStride?: number } = {}): void {
  models.set(info.name, { ...info, create, timeStride: extra.timeStride ?? 1 });
}

/** Architecture names registered so far, in registration order. */
export function registeredModels(): string[] {
  return [...models.keys()];
}

/** What is registered under `arch`, or undefined. */
export function modelInfo(arch: string): RegisteredModel | undefined {
  return models.get(arch);
}

/** Builds the model `spec` names; throws BONSAI_CORE_UNKNOWN_MODEL for an architecture never registered. */
export function createModel(spec: ModelSpec): MaskedModel {
  const model = models.get(spec.arch);
  if (!model) {
    throw new BonsaiError('BONSAI_CORE_UNKNOWN_MODEL', `unknown model architecture "${spec.arch}"; known: ${registeredModels().join(', ')}`, { arch: spec.arch, known: registeredModels() });
  }
  return model.create(spec);
}
