/**
 * Which task the daemon trains and serves for a model architecture, and what a
 * speech model needs (paper section 5.3: DeepSpeech2 with H-LSTM cells and CTC).
 *
 * - `classification` (lenet300, mlp, lenet5, resnet18): one class label per
 *   sample of a fixed shape, softmax cross-entropy, the error rate.
 * - `speech` (ds2): utterances of any number of MFCC frames, each with a
 *   character transcript (a `<file>.txt` sidecar or manifest transcript, else
 *   the class label read as words: `inbox/seven/x.wav` is "seven"), CTC loss
 *   over the English alphabet, and the word error rate of prefix beam search
 *   restricted to the words of the training transcripts (as
 *   experiments/fsdd.ts scores FSDD). The vocabulary is saved with each model, so the server
 *   decodes with the words that model was trained on.
 */
import {
  modelInfo, registeredModels, type Modality, type TaskKind, createLexicon, ctcMinInputLength, speechTask, type SpeechAugmentOptions, type SpeechTask,
} from '../core/index.ts';
import { ENGLISH_ALPHABET, type Alphabet } from '../core/text/alphabet.ts';
import { normalizeTranscript } from '../pipelines/labels/index.ts';

export type { TaskKind } from '../core/index.ts';

/** The task an architecture trains, as it registered (core/models/options.ts); an unknown one classifies. */
export function taskKindOf(arch: string): TaskKind {
  return modelInfo(arch)?.task ?? 'classification';
}

/** Whether an architecture reads samples of `modality` (a speech model reads recordings only). */
export function readsModality(arch: string, modality: Modality): boolean {
  return modelInfo(arch)?.modalities.includes(modality) ?? true;
}

/** Architectures of the speech task. */
export function speechModels(): string[] {
  return registeredModels().filter((arch) => taskKindOf(arch) === 'speech');
}

/** Input frames per output frame of a speech architecture (1 for others). */
export function timeStrideOf(arch: string): number {
  return modelInfo(arch)?.timeStride ?? 1;
}

/** The characters a speech model's output layer scores (CTC blank at 0). */
export const SPEECH_ALPHABET: Alphabet = ENGLISH_ALPHABET;

/** Name of the CTC blank among a speech model's output labels. */
export const BLANK_LABEL = '<blank>';

/** Output labels of a speech model, one per output unit: the blank, then the alphabet's characters. */
export function speechLabels(alphabet: Alphabet = SPEECH_ALPHABET): string[] {
  return [BLANK_LABEL, ...alphabet.chars];
}

/** Beam width of the daemon's speech decoding. */
export const SPEECH_BEAM_WIDTH = 8;

/** SpecAugment-style distortions of training utterances when config `algorithm.augment` is on (experiments/fsdd.ts's). */
export const SPEECH_AUGMENT: SpeechAugmentOptions = { timeMasks: 2, maxTimeFraction: 0.1, featureMasks: 2, maxFeatureWidth: 5, noise: 0.1 };

/**
 * The speech task of an architecture: CTC over `SPEECH_ALPHABET`, decoded by
 * prefix beam search over `vocabulary` (any character sequence when it is empty).
 */
export function speechTaskFor(arch: string, vocabulary: readonly string[], augment = false): SpeechTask {
  return speechTask({
    alphabet: SPEECH_ALPHABET,
    timeStride: timeStrideOf(arch),
    decoder: 'beam',
    beamWidth: SPEECH_BEAM_WIDTH,
    lexicon: vocabulary.length > 0 ? createLexicon(vocabulary, SPEECH_ALPHABET) : undefined,
    augment: augment ? SPEECH_AUGMENT : undefined,
  });
}

/**
 * A class label read as a transcript (`seven` -> "seven", `New_York` -> "new york"),
 * or null when it has characters the alphabet cannot spell (digits: `7`).
 */
export function labelTranscript(label: string): string | null {
  try {
    return normalizeTranscript(label, { alphabet: SPEECH_ALPHABET.chars });
  } catch {
    return null;
  }
}

/** The distinct words of `transcripts`, sorted. */
export function vocabularyOf(transcripts: Iterable<string>): string[] {
  const words = new Set<string>();
  for (const t of transcripts) for (const w of t.split(' ')) if (w !== '') words.add(w);
  return [...words].sort();
}

/** Whether a transcript of class ids fits an utterance of `frames` input frames (CTC needs a frame per label and per repeat). */
export function fitsFrames(ids: readonly number[], frames: number, timeStride: number): boolean {
  return ctcMinInputLength(ids) <= Math.ceil(frames / timeStride);
}
