export { cloneModel } from './clone.ts';
export { serializeModel, deserializeModel, type Lineage, type ModelFile, type SerializedModel } from './format.ts';
export { saveModel, loadModel, MODEL_FILES } from './files.ts';
