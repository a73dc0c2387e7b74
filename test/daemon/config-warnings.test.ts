/** Settings that load but are said at start: mel filters without an FFT bin. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseConfig } from '../../config/index.ts';
import { warnAboutConfig } from '../../daemon/config-warnings.ts';
import { MemoryLog } from '../../daemon/logging.ts';

test('an audio model whose mel filters hold no FFT bin is said once at start; the defaults and image models say nothing', () => {
  const log = new MemoryLog();
  // 128 filters at 16 kHz with a 512-point FFT: a setting that loaded before, whose filter 4 takes no bin.
  assert.equal(warnAboutConfig(parseConfig({ model: { modality: 'audio', audio: { sampleRate: 16000, melFilters: 128 } } }), log), 1);
  const said = log.named('config.mel_filters_empty');
  assert.equal(said.length, 1);
  assert.match(String(said[0].problem), /melFilters 128 with fftSize 512 at 16000 Hz leaves filter 4 \(/);
  assert.equal(said[0].melFilters, 128);
  for (const config of [defaultConfig(), parseConfig({ model: { modality: 'audio' } }), parseConfig({ model: { audio: { melFilters: 192 } } })]) {
    const quiet = new MemoryLog();
    assert.equal(warnAboutConfig(config, quiet), 0);
    assert.equal(quiet.events.length, 0);
  }
});
