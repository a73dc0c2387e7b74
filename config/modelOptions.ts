/**
 * Architecture options of each model (config `model.options`): the keys that
 * core/models/<name>.ts reads from `ModelSpec.options`, each with its rule and
 * the model's default. `model.options` holds the options of `model.name`; a
 * key another architecture has, or none has, is an unknown key that names the
 * keys allowed (config/schema.ts, `checkConsistency`). A test builds every
 * model with every option here and checks that each one changes the network.
 */
import { z } from 'zod';

/** One architecture option. */
export interface ModelOption {
  /** What it sets, and the model's default. */
  readonly doc: string;
  /** Its rule. */
  readonly schema: z.ZodType;
}

/** A list of positive integers, written `[16, 16, 16]` or `"16,16,16"`; null when `value` is neither. */
export function positiveIntList(value: unknown): number[] | null {
  const list = typeof value === 'string' ? (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(value) ? value.split(',').map(Number) : null) : value;
  return Array.isArray(list) && list.length > 0 && list.every((n) => Number.isInteger(n) && n > 0) ? list : null;
}

const posInt = () => z.number().int().positive();

/** `count` positive integers (any number of them when null), as a list or comma-separated text. */
const intList = (count: number | null, example: string) => z.unknown().superRefine((value, ctx) => {
  const list = positiveIntList(value);
  if (list === null || (count !== null && list.length !== count)) {
    ctx.addIssue({ code: 'custom', message: `must be ${count ?? 'one or more'} positive integers, as a list [${example}] or text "${example.replace(/ /g, '')}"`, input: value });
  }
});

/** Options of each architecture of `MODEL_NAMES` (config/schema.ts), by name. */
export const MODEL_OPTIONS: Readonly<Record<string, Readonly<Record<string, ModelOption>>>> = Object.freeze({
  lenet300: {
    hidden: { doc: 'widths of the hidden layers (default [300, 100])', schema: intList(null, '300, 100') },
    density: { doc: 'initial share of live connections of every layer, in (0, 1] (default 1)', schema: z.number().gt(0).max(1) },
  },
  lenet5: {},
  resnet18: {
    width: { doc: 'filters of the first stage; the others have 2, 4 and 8 times as many (default 64)', schema: posInt() },
    stem: { doc: '`imagenet` (7x7/2 convolution and 3x3/2 max pool) or `cifar` (3x3/1, no pool, for small images) (default imagenet)', schema: z.enum(['imagenet', 'cifar']) },
  },
  ds2: {
    filters: { doc: 'filters of the three convolutions (default [16, 16, 16])', schema: intList(3, '16, 16, 16') },
    kernelTime: { doc: 'kernel extent of every convolution in time, in frames (default 5)', schema: posInt() },
    kernelFreq: { doc: 'kernel extent of every convolution in frequency, in coefficients (default 5)', schema: posInt() },
    hidden: { doc: 'hidden units of each direction of every H-LSTM layer (default 64; the paper: 800)', schema: posInt() },
    gateHidden: { doc: 'width of the hidden layer of the H-LSTM gates (default: hidden)', schema: posInt() },
    rnnLayers: { doc: 'bidirectional H-LSTM layers (default 3)', schema: posInt() },
    dropout: { doc: 'dropout on the gates\' hidden layers while training, in [0, 1) (default 0.2, as in the paper)', schema: z.number().min(0).lt(1) },
    batchNorm: { doc: 'batch normalisation after each convolution (default true)', schema: z.boolean() },
  },
});

/** The option keys that architecture `arch` accepts. */
export function modelOptionKeys(arch: string): string[] {
  return Object.keys(MODEL_OPTIONS[arch] ?? {});
}
