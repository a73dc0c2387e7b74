/**
 * Saving and loading a model directory: model.json, weights.bin, masks.bin.
 * Writers call this on a staging directory; the registry renames it into place.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BonsaiError } from '../errors.ts';
import type { MaskedModel } from '../models/model.ts';
import { deserializeModel, type Lineage, type ModelFile, serializeModel } from './format.ts';

export const MODEL_FILES = ['model.json', 'weights.bin', 'masks.bin'] as const;

export async function saveModel(model: MaskedModel, dir: string, lineage: Lineage): Promise<ModelFile> {
  const { json, weights, masks } = serializeModel(model, lineage);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), weights);
  await writeFile(join(dir, 'masks.bin'), masks);
  await writeFile(join(dir, 'model.json'), JSON.stringify(json, null, 2));
  return json;
}

export async function loadModel(dir: string): Promise<{ model: MaskedModel; file: ModelFile }> {
  let json: ModelFile;
  let weights: Buffer;
  let masks: Buffer;
  try {
    json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelFile;
    weights = await readFile(join(dir, 'weights.bin'));
    masks = await readFile(join(dir, 'masks.bin'));
  } catch (cause) {
    throw new BonsaiError('BONSAI_CORE_MODEL_UNREADABLE', `cannot read the model in ${dir}: ${(cause as Error).message}`, { dir }, { cause });
  }
  return { model: deserializeModel({ json, weights, masks }), file: json };
}
