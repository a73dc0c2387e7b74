/**
 * The data of one speech update, read from the sample store (read-only) as of
 * the parent's snapshot `upToSeq`, with the same splits as classification
 * (daemon/trainer/data.ts): new (pending training samples), all training
 * samples, validation, test.
 *
 * Each recording is an utterance of [frames, width] MFCC features (variable
 * frames). Its transcript is the stored transcript (sidecar or manifest), else
 * its class label read as words (daemon/speech.ts `labelTranscript`). Samples
 * are skipped and counted, by reason, when their features are not
 * [frames, width] (an image, or MFCCs of another config), when their label
 * cannot be spelled in the alphabet (`7` instead of `seven`), or when the
 * transcript is too long for the recording (CTC needs an output frame per
 * character and per repeated character).
 */
import { makeSpeechDataset, type SpeechDataset, type Utterance } from '../../core/index.ts';
import type { SampleQuery, SampleStore, Split } from '../../pipelines/store/index.ts';
import { SPEECH_ALPHABET, fitsFrames, labelTranscript, vocabularyOf } from '../speech.ts';
import { splitQuery } from './data.ts';
import { selectUpdateData, type DataSelection } from './selection.ts';

/** Why samples were left out of a speech update. */
export interface SpeechSkips {
  /** Features that are not [frames, width]. */
  shape: number;
  /** A class label the alphabet cannot spell. */
  label: number;
  /** A transcript longer than the recording allows. */
  tooShort: number;
}

/** The four datasets of a speech update. */
export interface SpeechUpdateDatasets {
  newData: SpeechDataset;
  allData: SpeechDataset;
  validation: SpeechDataset;
  test: SpeechDataset;
  /** Distinct words of the training transcripts, sorted (the decoder's lexicon). */
  vocabulary: string[];
  /** Samples left out, all reasons together. */
  skipped: number;
  /** Samples left out, by reason. */
  skips: SpeechSkips;
  /** What was read of each split when the data exceeded the memory budget; null when everything was read. */
  selection: DataSelection | null;
}

const BATCH = 256;

/** Reads the utterances matching `query` whose frames are `width` wide. */
export function readSpeechDataset(store: SampleStore, query: SampleQuery, width: number, timeStride: number): { data: SpeechDataset; skips: SpeechSkips } {
  const classLabels = store.labels().map((l) => l.label);
  const utterances: Utterance[] = [];
  const skips: SpeechSkips = { shape: 0, label: 0, tooShort: 0 };
  for (const batch of store.batches(query, BATCH)) {
    let offset = 0;
    batch.shapes.forEach((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const features = batch.features.subarray(offset, offset + n);
      offset += n;
      if (shape.length !== 2 || shape[1] !== width || shape[0] < 1) {
        skips.shape += 1;
        return;
      }
      const label = batch.labels[i] >= 0 ? classLabels[batch.labels[i]] : undefined;
      const transcript = batch.transcripts[i] ?? (label === undefined ? null : labelTranscript(label));
      if (transcript === null) {
        skips.label += 1;
        return;
      }
      if (!fitsFrames(SPEECH_ALPHABET.encode(transcript), shape[0], timeStride)) {
        skips.tooShort += 1;
        return;
      }
      utterances.push({ features, transcript });
    });
  }
  return { data: makeSpeechDataset(utterances, width, SPEECH_ALPHABET), skips };
}

/** Reads the new, all, validation and test utterances of a speech update, within `budgetBytes` of features (null: all). */
export function readSpeechUpdateData(store: SampleStore, upToSeq: number, width: number, timeStride: number, budgetBytes: number | null = null): SpeechUpdateDatasets {
  const selection = selectUpdateData(store, upToSeq, budgetBytes);
  const read = (split: Split, pending = false) => readSpeechDataset(store, splitQuery(split, upToSeq, selection, pending), width, timeStride);
  const fresh = read('train', true);
  const all = read('train');
  const validation = read('validation');
  const test = read('test');
  const skips: SpeechSkips = { shape: 0, label: 0, tooShort: 0 };
  for (const s of [all.skips, validation.skips, test.skips]) {
    skips.shape += s.shape;
    skips.label += s.label;
    skips.tooShort += s.tooShort;
  }
  return {
    newData: fresh.data, allData: all.data, validation: validation.data, test: test.data,
    vocabulary: vocabularyOf(all.data.transcripts),
    skipped: skips.shape + skips.label + skips.tooShort,
    skips,
    selection,
  };
}
