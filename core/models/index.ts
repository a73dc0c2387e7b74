/**
 * The models and their registry. Importing this module registers every built-in
 * architecture (LeNet-300-100 and its alias `mlp`, LeNet-5, ResNet-18 and
 * DeepSpeech2 `ds2`), so `createModel` and `loadModel` know them all without
 * further calls. The map itself lives in core/models/registry.ts, which the
 * models can import without a cycle.
 */
import { LeNet300 } from './lenet300.ts';
import { LeNet5 } from './lenet5.ts';
import { ResNet18 } from './resnet18.ts';
import { registerDs2 } from './ds2.ts';
import { registerModel } from './registry.ts';

export type { MaskedModel, ModelSpec, LayerCount } from './model.ts';
export { LeNet300 } from './lenet300.ts';
export { LeNet5 } from './lenet5.ts';
export { ResNet18 } from './resnet18.ts';
export { DeepSpeech2, DS2_TIME_STRIDE, ds2OutputLength, registerDs2 } from './ds2.ts';
export { createModel, registerModel, registeredModels, type ModelFactory } from './registry.ts';

registerModel('lenet300', (s) => new LeNet300(s));
registerModel('mlp', (s) => new LeNet300(s));
registerModel('lenet5', (s) => new LeNet5(s));
registerModel('resnet18', (s) => new ResNet18(s));
registerDs2();
