import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AudioSpec, ImageSpec, IngestLimits } from '../../pipelines/types.ts';
import { defaultAudioSpec } from '../../pipelines/audio/spec.ts';
import { defaultConfig } from '../../config/index.ts';

test('config sections are the pipelines\' specs, with the audio pipeline\'s defaults', () => {
  const c = defaultConfig();
  // These assignments are the type check: a config section must fit the pipeline contract.
  const audio: AudioSpec = { ...c.model.audio };
  const image: ImageSpec = { ...c.model.image, range: [c.model.image.range[0], c.model.image.range[1]] };
  const limits: IngestLimits = { ...c.ingest.limits };
  assert.deepEqual(audio, { ...defaultAudioSpec });
  assert.deepEqual(image, { height: 28, width: 28, channels: 1, resize: 'fit', range: [0, 1] });
  assert.equal(limits.maxFileBytes, 16 * 1024 * 1024);
});
