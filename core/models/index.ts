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
import { LENET300, LENET5, RESNET18 } from './options.ts';

export type { MaskedModel, ModelSpec, LayerCount } from './model.ts';
export { LeNet300 } from './lenet300.ts';
export { LeNet5 } from './lenet5.ts';
export { ResNet18 } from './resnet18.ts';
export { DeepSpeech2, DS2_TIME_STRIDE, ds2OutputLength, registerDs2 } from './ds2.ts';
export { createModel, modelInfo, registerModel, registeredModels, type ModelFactory, type RegisteredModel } from './registry.ts';
export { BUILTIN_MODELS, MODALITIES, builtinModel, listOption, type Modality, type ModelInfo, type ModelName, type ModelOption, type ModelOptions, type OptionValue, type TaskKind } from './options.ts';

registerModel(LENET300, (s) => new LeNet300(s));
registerModel({ ...LENET300, name: 'mlp' }, (s) => new LeNet300(s));
registerModel(LENET5, (s) => new LeNet5(s));
registerModel(RESNET18, (s) => new ResNet18(s));
registerDs2();
