/**
 * What bonsai knows of each built-in architecture besides its layers: its name,
 * the task it learns, the kind of samples it reads, and its options (config
 * `model.options`, `ModelSpec.options`) with each one's rule and default. Each
 * model file reads its defaults from here, core/models/index.ts registers each
 * entry with its factory, and config/ composes its schema from `BUILTIN_MODELS`
 * (the one module of core/models/ config may import: zod only, no tfjs).
 */
import { z } from 'zod';

/** A value of an architecture option; a list of widths stays a list. */
export type OptionValue = number | string | boolean | readonly number[];

/** Architecture options by key. */
export type ModelOptions = Readonly<Record<string, OptionValue>>;

/** One architecture option. */
export interface ModelOption {
  /** What it sets, and the model's default in words. */
  readonly doc: string;
  /** Its rule: a list option also takes comma-separated text (`"300,100"`) and gives a list. */
  readonly schema: z.ZodType<OptionValue>;
  /** The model's default; null where it follows from another option (ds2's `gateHidden` is `hidden`). */
  readonly default: OptionValue | null;
}

/** What a model learns: a class per sample, or a transcript per utterance (CTC). */
export type TaskKind = 'classification' | 'speech';

/** Kinds of samples, each with its ingestion pipeline (pipelines/image, pipelines/audio). */
export const MODALITIES = ['image', 'audio'] as const;

/** A kind of samples. */
export type Modality = (typeof MODALITIES)[number];

/** An architecture: its name, task, modalities and options. */
export interface ModelInfo {
  /** The architecture's name, config `model.name` and `ModelSpec.arch`. */
  readonly name: string;
  /** What it learns. */
  readonly task: TaskKind;
  /**
   * The samples it reads: a speech model reads recordings; a classifier reads images,
   * or recordings of one fixed shape (config `model.inputShape`).
   */
  readonly modalities: readonly Modality[];
  /** Its options by key. */
  readonly options: Readonly<Record<string, ModelOption>>;
  /** The optimizer it trains with when config `algorithm.optimizer` is null. */
  readonly optimizer: 'sgd' | 'adam';
}

/** A list of positive integers, written `[16, 16, 16]` or `"16,16,16"`; null when `value` is neither. */
export function positiveIntList(value: unknown): number[] | null {
  const list = typeof value === 'string' ? (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(value) ? value.split(',').map(Number) : null) : value;
  return Array.isArray(list) && list.length > 0 && list.every((n) => Number.isInteger(n) && n > 0) ? [...list] : null;
}

const posInt = () => z.number().int().positive();

/** `count` positive integers (any number of them when null), as a list or comma-separated text; gives the list. */
const intList = (count: number | null, example: string) => z.unknown().transform((value, ctx): readonly number[] => {
  const list = positiveIntList(value);
  if (list === null || (count !== null && list.length !== count)) {
    ctx.addIssue({ code: 'custom', message: `must be ${count ?? 'one or more'} positive integers, as a list [${example}] or text "${example.replace(/ /g, '')}"`, input: value });
    return z.NEVER;
  }
  return list;
});

/** LeNet-300-100 (paper section 5.1), and the MLPs of other widths. The classifiers train with SGD and momentum, as in the paper. */
export const LENET300 = {
  name: 'lenet300' as const,
  task: 'classification',
  modalities: MODALITIES,
  optimizer: 'sgd',
  options: {
    hidden: { doc: 'widths of the hidden layers (default [300, 100])', schema: intList(null, '300, 100'), default: [300, 100] as readonly number[] },
    density: { doc: 'initial share of live connections of every layer, in (0, 1] (default 1)', schema: z.number().gt(0).max(1), default: 1 },
  },
} satisfies ModelInfo;

/** LeNet-5 (paper section 5.1). */
export const LENET5 = {
  name: 'lenet5' as const,
  task: 'classification',
  modalities: MODALITIES,
  optimizer: 'sgd',
  options: {},
} satisfies ModelInfo;

/** ResNet-18 (paper section 5.2). */
export const RESNET18 = {
  name: 'resnet18' as const,
  task: 'classification',
  modalities: MODALITIES,
  optimizer: 'sgd',
  options: {
    width: { doc: 'filters of the first stage; the others have 2, 4 and 8 times as many (default 64)', schema: posInt(), default: 64 },
    stem: { doc: '`imagenet` (7x7/2 convolution and 3x3/2 max pool) or `cifar` (3x3/1, no pool, for small images) (default imagenet)', schema: z.enum(['imagenet', 'cifar']), default: 'imagenet' },
  },
} satisfies ModelInfo;

/** DeepSpeech2 with H-LSTM cells (paper section 5.3). */
export const DS2 = {
  name: 'ds2' as const,
  task: 'speech',
  modalities: ['audio'],
  // Tuned and measured with Adam on FSDD (experiments/fsdd.ts).
  optimizer: 'adam',
  options: {
    filters: { doc: 'filters of the three convolutions (default [16, 16, 16])', schema: intList(3, '16, 16, 16'), default: [16, 16, 16] as readonly number[] },
    kernelTime: { doc: 'kernel extent of every convolution in time, in frames (default 5)', schema: posInt(), default: 5 },
    kernelFreq: { doc: 'kernel extent of every convolution in frequency, in coefficients (default 5)', schema: posInt(), default: 5 },
    hidden: { doc: 'hidden units of each direction of every H-LSTM layer (default 64; the paper: 800)', schema: posInt(), default: 64 },
    gateHidden: { doc: 'width of the hidden layer of the H-LSTM gates (default: hidden)', schema: posInt(), default: null },
    rnnLayers: { doc: 'bidirectional H-LSTM layers (default 3)', schema: posInt(), default: 3 },
    dropout: { doc: 'dropout on the gates\' hidden layers while training, in [0, 1) (default 0.2, as in the paper)', schema: z.number().min(0).lt(1), default: 0.2 },
    batchNorm: { doc: 'batch normalisation after each convolution (default true)', schema: z.boolean(), default: true },
  },
} satisfies ModelInfo;

/** The architectures config `model.name` offers, as in the paper (sections 5.1 to 5.3). */
export const BUILTIN_MODELS = [LENET300, LENET5, RESNET18, DS2] as const;

/** A name of `BUILTIN_MODELS`. */
export type ModelName = (typeof BUILTIN_MODELS)[number]['name'];

/** The info of a built-in architecture, or undefined. */
export function builtinModel(name: string): ModelInfo | undefined {
  return BUILTIN_MODELS.find((m) => m.name === name);
}

/**
 * A list option of `spec.options` as numbers: a list as given, comma-separated text
 * (how models saved before lists were kept hold it) split once, `fallback` when absent.
 * Entries that are not numbers come back as NaN for the model's own check.
 */
export function listOption(value: OptionValue | undefined, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  if (Array.isArray(value)) return [...value];
  return String(value).split(',').map(Number);
}
