/**
 * The Free Spoken Digit Dataset (Z. Jackson et al., github.com/Jakobovski/
 * free-spoken-digit-dataset, CC BY-SA 4.0): 3,000 recordings of the digits 0-9
 * by 6 speakers, 50 takes each, mono 16-bit 8 kHz WAV, named
 * `{digit}_{speaker}_{take}.wav`. The customary split puts takes 0-4 of every
 * digit and speaker in the test set (300 recordings) and takes 5-49 in the
 * training set (2,700).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { AudioErrorCode } from './codes.ts';

/** The six speakers of FSDD. */
export const FSDD_SPEAKERS: readonly string[] = Object.freeze(['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']);

/** Takes below this number form the customary test set. */
export const FSDD_TEST_TAKES = 5;

/** One recording of the dataset. */
export interface FsddRecording {
  /** Absolute path of the WAV file. */
  path: string;
  /** Spoken digit, 0-9 (the label). */
  digit: number;
  /** Speaker name, e.g. `jackson`. */
  speaker: string;
  /** Take number, 0-49. */
  take: number;
  /** `test` for takes below `testTakes`, `train` otherwise. */
  split: 'train' | 'test';
}

/** Which recordings `loadFsdd` lists. */
export interface LoadFsddOptions {
  /** `train`, `test` or `all` (default `all`). */
  split?: 'train' | 'test' | 'all';
  /** Only these speakers (default all). */
  speakers?: readonly string[];
  /** Only these digits (default all). */
  digits?: readonly number[];
  /** Takes below this number are the test set (default 5: takes 0-4). */
  testTakes?: number;
}

const FILE_NAME = /^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$/;

/**
 * Where the dataset is: `BONSAI_FSDD_DIR` when set, else `../shared/data/fsdd`
 * relative to the repository root.
 */
export function fsddDir(repoRoot: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  const fromEnv = env.BONSAI_FSDD_DIR;
  return fromEnv !== undefined && fromEnv !== '' ? resolve(fromEnv) : resolve(repoRoot, '..', 'shared', 'data', 'fsdd');
}

/**
 * Lists the recordings under `dir` (the dataset folder holding `recordings/`,
 * or the recordings folder itself), sorted by speaker, digit and take. Files
 * not named `{digit}_{speaker}_{take}.wav` are ignored. Throws
 * BONSAI_INGEST_FSDD_NOT_FOUND when the folder is missing and
 * BONSAI_INGEST_FSDD_EMPTY when it holds no recording at all.
 */
export function loadFsdd(dir: string, opts: LoadFsddOptions = {}): FsddRecording[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new BonsaiError(AudioErrorCode.FSDD_NOT_FOUND, `FSDD folder ${root} does not exist (set BONSAI_FSDD_DIR)`, { dir: root });
  }
  const nested = join(root, 'recordings');
  const folder = existsSync(nested) && statSync(nested).isDirectory() ? nested : root;
  const testTakes = opts.testTakes ?? FSDD_TEST_TAKES;
  const all: FsddRecording[] = [];
  for (const name of readdirSync(folder)) {
    const match = FILE_NAME.exec(name);
    if (match === null) continue;
    const take = Number(match[3]);
    all.push({ path: join(folder, name), digit: Number(match[1]), speaker: match[2], take, split: take < testTakes ? 'test' : 'train' });
  }
  if (all.length === 0) {
    throw new BonsaiError(AudioErrorCode.FSDD_EMPTY, `FSDD folder ${folder} holds no {digit}_{speaker}_{take}.wav file`, { dir: folder });
  }
  const split = opts.split ?? 'all';
  const speakers = opts.speakers === undefined ? undefined : new Set(opts.speakers);
  const digits = opts.digits === undefined ? undefined : new Set(opts.digits);
  return all
    .filter((r) => (split === 'all' || r.split === split) && (speakers === undefined || speakers.has(r.speaker)) && (digits === undefined || digits.has(r.digit)))
    .sort((a, b) => (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : a.digit - b.digit || a.take - b.take));
}
