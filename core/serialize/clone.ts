/**
 * A deep copy of a model: same architecture, values, masks and running statistics.
 */
import { createModel } from '../models/index.ts';
import type { MaskedModel } from '../models/model.ts';

export function cloneModel(model: MaskedModel): MaskedModel {
  const copy = createModel({ ...model.spec, inputShape: [...model.spec.inputShape] });
  copy.params.forEach((p, i) => {
    const src = model.params[i];
    p.mask.assign(src.mask);
    p.value.assign(src.value);
  });
  copy.state.forEach((s, i) => s.assign(model.state[i]));
  return copy;
}
