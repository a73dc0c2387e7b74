/**
 * Settings that load but deserve a word at start: what the config cannot refuse because it
 * used to load, and samples and models made with it must still work.
 */
import type { Config } from '../config/index.ts';
import { melFilterWarning } from '../config/schema.ts';
import type { Log } from './logging.ts';

/** Logs one warning per such setting; returns how many. */
export function warnAboutConfig(config: Config, log: Log): number {
  let said = 0;
  if (config.model.modality === 'audio') {
    const mel = melFilterWarning(config.model.audio);
    if (mel !== null) {
      log.warn('config.mel_filters_empty', { problem: mel, melFilters: config.model.audio.melFilters, fftSize: config.model.audio.fftSize, sampleRate: config.model.audio.sampleRate });
      said++;
    }
  }
  return said;
}
