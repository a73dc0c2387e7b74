/**
 * The model registry knows every built-in architecture as soon as
 * core/models/index.ts is imported: ds2 included, with no registerDs2() call.
 * This file imports nothing that registers ds2 itself, and a child process
 * checks the same from a fresh module graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BonsaiError } from '../../core/errors.ts';
import { BUILTIN_MODELS, createModel, DS2_TIME_STRIDE, modelInfo, registeredModels } from '../../core/models/index.ts';
import { noLeaks } from '../helpers/tensors.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tinyDs2 = { arch: 'ds2', inputShape: [8, 6], numClasses: 5, seed: 1, options: { filters: '2,2,2', hidden: 3, rnnLayers: 1, kernelTime: 3, kernelFreq: 3 } };

test('every built-in architecture, ds2 included, is registered by importing core/models/index.ts', () => {
  assert.deepEqual(registeredModels().sort(), ['ds2', 'lenet300', 'lenet5', 'mlp', 'resnet18']);
});

test('each architecture registers its task, modalities and options with its factory', () => {
  for (const info of BUILTIN_MODELS) {
    const registered = modelInfo(info.name);
    assert.ok(registered, info.name);
    assert.deepEqual({ task: registered.task, modalities: registered.modalities, options: registered.options }, { task: info.task, modalities: info.modalities, options: info.options });
  }
  assert.deepEqual(registeredModels().filter((a) => modelInfo(a)?.task === 'speech'), ['ds2']);
  assert.equal(modelInfo('ds2')?.timeStride, DS2_TIME_STRIDE);
  assert.equal(modelInfo('mlp')?.options, modelInfo('lenet300')?.options, 'mlp is lenet300 under another name');
  assert.equal(modelInfo('nope'), undefined);
});

test('a list option is read as a list, and as the comma-separated text of models saved before', async () => {
  await noLeaks(() => {
    for (const hidden of [[6, 5], '6,5']) {
      const model = createModel({ arch: 'lenet300', inputShape: [4], numClasses: 3, options: { hidden }, seed: 1 });
      assert.deepEqual(model.layerCounts().map((l) => l.total), [4 * 6 + 6, 6 * 5 + 5, 5 * 3 + 3]);
      model.dispose();
    }
  });
});

test('createModel builds ds2 without registerDs2()', async () => {
  await noLeaks(() => {
    const model = createModel(tinyDs2);
    assert.equal(model.constructor.name, 'DeepSpeech2');
    assert.equal(model.numClasses, 5);
    model.dispose();
  });
});

test('createModel builds ds2 in a fresh process that imports only core/models/index.ts', () => {
  const script = [
    "const { createModel } = await import('./core/models/index.ts');",
    `const m = createModel(${JSON.stringify(tinyDs2)});`,
    'console.log(m.constructor.name, m.denseParams() > 0);',
    'm.dispose();',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'DeepSpeech2 true');
});

test('registerDs2() stays callable and idempotent; an unknown architecture is a coded error listing the known ones', async () => {
  const { registerDs2 } = await import('../../core/models/ds2.ts');
  registerDs2();
  registerDs2();
  assert.equal(registeredModels().filter((a) => a === 'ds2').length, 1);
  await noLeaks(() => createModel(tinyDs2).dispose());
  assert.throws(() => createModel({ arch: 'nope', inputShape: [1], numClasses: 2 }), (err: unknown) => {
    assert.ok(err instanceof BonsaiError);
    assert.equal(err.code, 'BONSAI_CORE_UNKNOWN_MODEL');
    assert.match(err.message, /"nope".*ds2/);
    return true;
  });
});
