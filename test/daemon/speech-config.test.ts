/**
 * Which model the daemon trains for a config: speech models (ds2) need no fixed
 * input shape, only the MFCC width; bad audio configs are coded errors with the
 * values; image and fixed-shape audio classification are unchanged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BonsaiError } from '../../core/errors.ts';
import { parseConfig, type ConfigInput } from '../../config/index.ts';
import { modelChoice } from '../../daemon/daemon.ts';
import { fitsFrames, labelTranscript, speechLabels, taskKindOf, vocabularyOf, SPEECH_ALPHABET } from '../../daemon/speech.ts';

const config = (model: ConfigInput['model']) => parseConfig({ model });

function throwsCode(fn: () => unknown, code: string, check: (err: BonsaiError) => void = () => undefined): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BonsaiError, String(err));
    assert.equal(err.code, code, err.message);
    check(err);
    return true;
  });
}

test('modality audio with ds2 and no inputShape trains on one MFCC frame of the audio config', () => {
  assert.deepEqual(modelChoice(config({ modality: 'audio', name: 'ds2' })), { arch: 'ds2', inputShape: [39], options: undefined });
  assert.deepEqual(modelChoice(config({ modality: 'audio', name: 'ds2', audio: { coefficients: 10, deltas: false } })).inputShape, [10]);
  assert.deepEqual(modelChoice(config({ modality: 'audio', name: 'ds2', inputShape: [39] })).inputShape, [39]);
  // Programmatic overrides (tests, the demo) pick ds2 the same way.
  assert.deepEqual(modelChoice(config({ modality: 'audio' }), { arch: 'ds2', options: { hidden: 4 } }), { arch: 'ds2', inputShape: [39], options: { hidden: 4 } });
});

test('bad audio configs are coded errors that say what to change', () => {
  throwsCode(() => modelChoice(config({ modality: 'audio', name: 'lenet300' })), 'BONSAI_DAEMON_INPUT_SHAPE', (err) => {
    assert.match(err.message, /model\.inputShape must be set .*lenet300.*ds2/);
    assert.deepEqual(err.details, { arch: 'lenet300', modality: 'audio', speechModels: ['ds2'] });
  });
  throwsCode(() => modelChoice(config({ modality: 'audio', name: 'ds2', inputShape: [98, 39] })), 'BONSAI_DAEMON_INPUT_SHAPE', (err) => {
    assert.match(err.message, /one MFCC frame, \[39\].*got \[98, 39\]/);
    assert.deepEqual(err.details, { arch: 'ds2', expected: [39], actual: [98, 39] });
  });
  throwsCode(() => modelChoice(config({ modality: 'audio', name: 'ds2', inputShape: [13] })), 'BONSAI_DAEMON_INPUT_SHAPE');
  throwsCode(() => modelChoice(config({ modality: 'image', name: 'ds2' })), 'BONSAI_DAEMON_MODEL_MODALITY', (err) => {
    assert.match(err.message, /speech model.*model\.modality to audio \(it is image\)/);
    assert.deepEqual(err.details, { arch: 'ds2', modality: 'image' });
  });
});

test('image models and fixed-shape audio classifiers are chosen as before', () => {
  assert.deepEqual(modelChoice(config({})), { arch: 'lenet300', inputShape: [28, 28, 1], options: undefined });
  assert.deepEqual(modelChoice(config({ name: 'lenet5', image: { height: 12, width: 12, channels: 1 } })).inputShape, [12, 12, 1]);
  assert.deepEqual(modelChoice(config({ modality: 'audio', name: 'lenet300', inputShape: [50, 39] })), { arch: 'lenet300', inputShape: [50, 39], options: undefined });
});

test('the speech task: ds2 only; labels read as words; vocabulary; CTC frame budget', () => {
  assert.equal(taskKindOf('ds2'), 'speech');
  for (const arch of ['lenet300', 'mlp', 'lenet5', 'resnet18']) assert.equal(taskKindOf(arch), 'classification');
  assert.equal(labelTranscript('seven'), 'seven');
  assert.equal(labelTranscript('New_York'), 'new york');
  assert.equal(labelTranscript('7'), null);
  assert.deepEqual(vocabularyOf(['seven', 'new york', 'seven eight', '']), ['eight', 'new', 'seven', 'york']);
  assert.equal(speechLabels().length, SPEECH_ALPHABET.size);
  assert.equal(speechLabels()[0], '<blank>');
  // "too" needs 4 output frames (t, o, blank, o); ds2 halves the frames.
  const too = SPEECH_ALPHABET.encode('too');
  assert.equal(fitsFrames(too, 8, 2), true);
  assert.equal(fitsFrames(too, 7, 2), true);
  assert.equal(fitsFrames(too, 6, 2), false);
});
