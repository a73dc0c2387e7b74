/**
 * Config `model.options` (the architecture of `model.name`) and
 * `algorithm.optimizer`: what parses, what is refused with which code, path,
 * value and allowed keys, and that the docs list every option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { MODEL_NAMES, loadConfig, parseConfig, type Problem } from '../../config/index.ts';
import { MODEL_OPTIONS, modelOptionKeys } from '../../config/model-options.ts';

function refused(input: unknown, code: string): Problem[] {
  let caught: unknown;
  try {
    parseConfig(input);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BonsaiError, `expected ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught.details.problems as Problem[];
}

const ds2 = (options: unknown) => ({ model: { name: 'ds2', modality: 'audio', options } });

test('model.options: valid options of each model parse and are kept as written', () => {
  assert.equal(parseConfig({}).model.options, null);
  assert.deepEqual(parseConfig(ds2({ filters: [8, 8, 8], hidden: 48, rnnLayers: 1, gateHidden: 24, kernelTime: 3, kernelFreq: 3, dropout: 0, batchNorm: false })).model.options,
    { filters: [8, 8, 8], hidden: 48, rnnLayers: 1, gateHidden: 24, kernelTime: 3, kernelFreq: 3, dropout: 0, batchNorm: false });
  assert.deepEqual(parseConfig(ds2({ filters: '8, 8,8' })).model.options, { filters: '8, 8,8' });
  assert.deepEqual(parseConfig(ds2({})).model.options, {});
  assert.deepEqual(parseConfig({ model: { name: 'lenet300', options: { hidden: [64, 32, 16], density: 0.5 } } }).model.options, { hidden: [64, 32, 16], density: 0.5 });
  assert.deepEqual(parseConfig({ model: { name: 'lenet300', options: { hidden: '300,100' } } }).model.options, { hidden: '300,100' });
  assert.deepEqual(parseConfig({ model: { name: 'resnet18', options: { width: 16, stem: 'cifar' } } }).model.options, { width: 16, stem: 'cifar' });
  assert.ok(Object.isFrozen(parseConfig(ds2({ filters: [8, 8, 8] })).model.options?.filters), 'frozen like the rest');
});

test('model.options: a value outside its rule is BONSAI_CONFIG_INVALID with the path, the rule and the value', () => {
  const problems = refused(ds2({ hidden: 0, filters: [8, 8], dropout: 1, rnnLayers: 1.5, batchNorm: 'yes' }), 'BONSAI_CONFIG_INVALID');
  const byPath = new Map(problems.map((p) => [p.path, p]));
  assert.deepEqual([...byPath.keys()].sort(), ['model.options.batchNorm', 'model.options.dropout', 'model.options.filters', 'model.options.hidden', 'model.options.rnnLayers']);
  assert.equal(byPath.get('model.options.hidden')?.value, 0);
  assert.match(byPath.get('model.options.hidden')?.message ?? '', /option of ds2: .*>0/);
  assert.deepEqual(byPath.get('model.options.filters')?.value, [8, 8]);
  assert.match(byPath.get('model.options.filters')?.message ?? '', /must be 3 positive integers, as a list \[16, 16, 16\] or text "16,16,16"/);
  assert.match(byPath.get('model.options.dropout')?.message ?? '', /<1/);
  assert.equal(refused(ds2({ filters: '8,x,8' }), 'BONSAI_CONFIG_INVALID')[0].path, 'model.options.filters');
  assert.equal(refused({ model: { name: 'lenet300', options: { hidden: [300, -1] } } }, 'BONSAI_CONFIG_INVALID')[0].path, 'model.options.hidden');
  assert.equal(refused({ model: { name: 'lenet300', options: { density: 0 } } }, 'BONSAI_CONFIG_INVALID')[0].path, 'model.options.density');
  assert.equal(refused({ model: { name: 'resnet18', options: { stem: 'tiny' } } }, 'BONSAI_CONFIG_INVALID')[0].value, 'tiny');
  // A value of no option's type at all.
  const [nested] = refused(ds2({ hidden: { units: 4 } }), 'BONSAI_CONFIG_INVALID');
  assert.equal(nested.path, 'model.options.hidden');
  assert.match(nested.message, /must be a number, text, true or false, or a list of numbers/);
  assert.equal(refused({ model: { options: [1, 2] } }, 'BONSAI_CONFIG_INVALID')[0].path, 'model.options');
});

test('model.options: a key the model does not have is BONSAI_CONFIG_UNKNOWN_KEY naming the key, the closest and all allowed keys', () => {
  const [typo] = refused(ds2({ hiden: 32 }), 'BONSAI_CONFIG_UNKNOWN_KEY');
  assert.equal(typo.path, 'model.options.hiden');
  assert.equal(typo.value, 32);
  assert.equal(typo.kind, 'unknown_key');
  assert.deepEqual(typo.allowed, ['filters', 'kernelTime', 'kernelFreq', 'hidden', 'gateHidden', 'rnnLayers', 'dropout', 'batchNorm']);
  assert.match(typo.message, /unknown option of model ds2; allowed: filters, kernelTime, kernelFreq, hidden, gateHidden, rnnLayers, dropout, batchNorm \(did you mean "hidden"\?\)/);
  // Another model's option is unknown too: options belong to model.name.
  const [other] = refused({ model: { name: 'resnet18', options: { rnnLayers: 2 } } }, 'BONSAI_CONFIG_UNKNOWN_KEY');
  assert.deepEqual(other.allowed, ['width', 'stem']);
  const [none] = refused({ model: { name: 'lenet5', options: { hidden: [10] } } }, 'BONSAI_CONFIG_UNKNOWN_KEY');
  assert.match(none.message, /lenet5 takes no options/);
  assert.deepEqual(none.allowed, []);
  // Mixed with a bad value, the error is INVALID and lists both.
  const mixed = refused(ds2({ hiden: 32, hidden: -1 }), 'BONSAI_CONFIG_INVALID');
  assert.deepEqual(mixed.map((p) => [p.path, p.kind]).sort(), [['model.options.hidden', 'custom'], ['model.options.hiden', 'unknown_key']]);
  // Ordinary unknown keys list the allowed ones as well.
  const [section] = refused({ model: { optons: {} } }, 'BONSAI_CONFIG_UNKNOWN_KEY');
  assert.match(section.message, /did you mean "options"/);
  assert.ok(section.allowed?.includes('options'), JSON.stringify(section.allowed));
});

test('model.options from a file (a mapping; empty = defaults) and from BONSAI_MODEL__OPTIONS (JSON)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-options-'));
  try {
    const file = join(dir, 'bonsai.yaml');
    writeFileSync(file, 'model:\n  name: ds2\n  modality: audio\n  options:\n    filters: [4, 4, 4]\n    hidden: 8\n');
    assert.deepEqual(loadConfig({ file, env: {} }).model.options, { filters: [4, 4, 4], hidden: 8 });
    // The environment replaces the whole mapping.
    assert.deepEqual(loadConfig({ file, env: { BONSAI_MODEL__OPTIONS: '{"rnnLayers": 1}' } }).model.options, { rnnLayers: 1 });
    writeFileSync(file, 'model:\n  name: ds2\n  modality: audio\n  options:\n    # hidden: 8\n');
    assert.equal(loadConfig({ file, env: {} }).model.options, null);
    writeFileSync(file, 'model:\n  name: ds2\n  modality: audio\n  options:\n    hiddn: 8\n');
    assert.throws(() => loadConfig({ file, env: {} }), (err: unknown) => {
      assert.ok(err instanceof BonsaiError);
      assert.equal(err.code, 'BONSAI_CONFIG_UNKNOWN_KEY');
      assert.match(err.message, new RegExp(`model\\.options\\.hiddn: .*did you mean "hidden".*; got 8 \\(from file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)`));
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('algorithm.optimizer and learningRate: null by default, sgd or adam and a positive rate when set', () => {
  const a = parseConfig({}).algorithm;
  assert.equal(a.optimizer, null);
  assert.equal(a.learningRate, null);
  assert.equal(a.momentum, 0.9);
  assert.equal(parseConfig({ algorithm: { optimizer: 'adam', learningRate: 0.002 } }).algorithm.optimizer, 'adam');
  assert.equal(parseConfig({ algorithm: { optimizer: 'sgd' } }).algorithm.optimizer, 'sgd');
  assert.equal(loadConfig({ env: { BONSAI_ALGORITHM__OPTIMIZER: 'adam' } }).algorithm.optimizer, 'adam');
  const [bad] = refused({ algorithm: { optimizer: 'rmsprop' } }, 'BONSAI_CONFIG_INVALID');
  assert.equal(bad.path, 'algorithm.optimizer');
  assert.equal(bad.value, 'rmsprop');
  assert.equal(refused({ algorithm: { learningRate: 0 } }, 'BONSAI_CONFIG_INVALID')[0].path, 'algorithm.learningRate');
});

test('each option states its default where the model has one, and its rule accepts it', () => {
  for (const name of MODEL_NAMES) {
    for (const [key, option] of Object.entries(MODEL_OPTIONS[name])) {
      if (option.default === null) continue;
      const shown = Array.isArray(option.default) ? `[${option.default.join(', ')}]` : String(option.default);
      assert.ok(option.doc.includes(`default ${shown}`), `${name}.${key}: the doc "${option.doc}" does not state the default ${shown}`);
      assert.deepEqual(option.schema.parse(option.default), option.default, `${name}.${key}`);
    }
  }
});

test('every model has an entry in MODEL_OPTIONS, and docs/configuration.md lists each option with its meaning', () => {
  assert.deepEqual(Object.keys(MODEL_OPTIONS).sort(), [...MODEL_NAMES].sort());
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  for (const name of MODEL_NAMES) {
    if (modelOptionKeys(name).length === 0) assert.ok(doc.includes(`| \`${name}\` | | no options |`), name);
    for (const [key, option] of Object.entries(MODEL_OPTIONS[name])) {
      assert.ok(doc.includes(`| \`${name}\` | \`${key}\` | ${option.doc} |`), `${name}.${key} missing or different in docs/configuration.md`);
    }
  }
});
