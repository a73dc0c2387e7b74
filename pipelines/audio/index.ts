/**
 * The audio ingestion pipeline: WAV validation and decoding, downmixing,
 * band-limited resampling and MFCC features, plus the FSDD dataset lister.
 */
export { AudioErrorCode } from './codes.ts';
export { type DecodedAudio, type WavHeader, type WavEncoding, alawToLinear, decodeWav, mulawToLinear, parseWavHeader, MIN_SAMPLE_RATE, MAX_SAMPLE_RATE, MAX_CHANNELS, MAX_FLOAT_MAGNITUDE } from './wav.ts';
export { type EncodeWavOptions, encodeWav } from './encode.ts';
export { downmix } from './downmix.ts';
export { type ResampleOptions, resample } from './resample.ts';
export { RealFft, isPowerOfTwo } from './fft.ts';
export { type MelFilterbank, hzToMel, melToHz, melFilterbank, melWeight } from './mel.ts';
export { type FrameGeometry, defaultAudioSpec, featureWidth, frameCount, frameGeometry, longestFrames, validateAudioSpec } from './spec.ts';
export { type FeatureMatrix, LOG_FLOOR, appendDeltas, logMelSpectrogram, mfcc, normalizeColumns } from './mfcc.ts';
export { processAudio, processAudioSync } from './process.ts';
export { type FsddRecording, type LoadFsddOptions, FSDD_SPEAKERS, FSDD_TEST_TAKES, fsddDir, loadFsdd } from './fsdd.ts';
