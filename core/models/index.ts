/**
 * The model registry: architecture name -> constructor. Saved models record their
 * spec, so loading rebuilds the same architecture from this list.
 */
import { BonsaiError } from '../errors.ts';
import { LeNet300 } from './lenet300.ts';
import { LeNet5 } from './lenet5.ts';
import { ResNet18 } from './resnet18.ts';
import type { MaskedModel, ModelSpec } from './model.ts';

export type { MaskedModel, ModelSpec, LayerCount } from './model.ts';
export { LeNet300 } from './lenet300.ts';
export { LeNet5 } from './lenet5.ts';
export { ResNet18 } from './resnet18.ts';

type ModelFactory = (spec: ModelSpec) => MaskedModel;

const registry = new Map<string, ModelFactory>([
  ['lenet300', (s) => new LeNet300(s)],
  ['mlp', (s) => new LeNet300(s)],
  ['lenet5', (s) => new LeNet5(s)],
  ['resnet18', (s) => new ResNet18(s)],
]);

/** Registers an architecture (the speech model registers itself this way). */
export function registerModel(arch: string, factory: ModelFactory): void {
  registry.set(arch, factory);
}

export function createModel(spec: ModelSpec): MaskedModel {
  const factory = registry.get(spec.arch);
  if (!factory) {
    throw new BonsaiError('BONSAI_CORE_UNKNOWN_MODEL', `unknown model architecture "${spec.arch}"; known: ${[...registry.keys()].join(', ')}`, { arch: spec.arch });
  }
  return factory(spec);
}
