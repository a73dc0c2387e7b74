/**
 * DeepSpeech2 with H-LSTM recurrent layers (paper section 5.3; Amodei et al.,
 * "Deep Speech 2", ICML 2016): three convolutional layers over time x frequency,
 * three bidirectional H-LSTM layers, one fully connected layer, and a CTC output
 * over characters plus the blank (the loss lives in core/losses/ctc.ts).
 *
 *   [B, T, F] MFCC frames
 *   -> conv1 (stride 2 in time and frequency), conv2, conv3 (stride 2 in frequency),
 *      each with batch norm and leaky ReLU
 *   -> 3 x bidirectional H-LSTM (directions concatenated)
 *   -> FC to characters + blank, per frame: [B, ceil(T / 2), classes] logits
 *
 * The paper used 800 hidden units; the defaults here train on two CPU cores.
 * Padded batches: the valid length of each utterance comes from
 * `setSequenceLengths` on the input tensor, else from its trailing all-zero frames
 * (a normalised MFCC frame is never all zeros). Convolution outputs beyond an
 * utterance's length are zeroed and the backward direction reverses each
 * utterance within its own length, so in inference an utterance's outputs do not
 * depend on the batch it is padded into (in training, batch norm's statistics do).
 */
import * as tf from '../tf.ts';
import { BonsaiError } from '../errors.ts';
import { type ForwardContext, type Layer, heNormal, leaky, weightOf } from '../sparse/layer.ts';
import { MaskedParam } from '../sparse/masked-param.ts';
import { MaskedDense } from '../sparse/masked-dense.ts';
import { BatchNorm } from '../sparse/batch-norm.ts';
import { HLstmCell, runHLstm } from '../sparse/hlstm.ts';
import { sequenceLengthsOf } from '../sparse/sequence-lengths.ts';
import { MaskedModel, type ModelSpec } from './model.ts';
import { registerModel } from './registry.ts';
import { DS2, listOption, type OptionValue } from './options.ts';

export interface TimeFreqConvArgs {
  /** Layer name, prefix of its parameter names. */
  name: string;
  /** Input channels. */
  inChannels: number;
  /** Filters (output channels). */
  filters: number;
  /** Kernel extent [time, frequency]. */
  kernel: [number, number];
  /** Strides [time, frequency]. */
  strides: [number, number];
  /** Whether the input channels are neurons (false for the first layer). */
  sendersAreNeurons?: boolean;
  /** Seed of the initial values. */
  seed?: number;
}

/** A masked 'same'-padded convolution over [batch, time, frequency, channels] with separate time and frequency strides. */
export class TimeFreqConv implements Layer {
  readonly name: string;
  readonly params: MaskedParam[];
  readonly state: tf.Variable[] = [];
  readonly kernel: MaskedParam;
  readonly bias: MaskedParam;
  readonly args: TimeFreqConvArgs;

  constructor(args: TimeFreqConvArgs) {
    this.name = args.name;
    this.args = args;
    const [kt, kf] = args.kernel;
    this.kernel = new MaskedParam({
      name: `${args.name}/kernel`, layer: args.name, kind: 'kernel',
      init: heNormal([kt, kf, args.inChannels, args.filters], kt * kf * args.inChannels, args.seed),
      inAxis: 2, outAxis: 3, sendersAreNeurons: args.sendersAreNeurons ?? true,
    });
    this.bias = new MaskedParam({ name: `${args.name}/bias`, layer: args.name, kind: 'bias', init: tf.zeros([args.filters]) });
    this.params = [this.kernel, this.bias];
  }

  apply(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    return tf.tidy(() => tf.conv2d(x as tf.Tensor4D, weightOf(this.kernel, ctx) as tf.Tensor4D, this.args.strides, 'same').add(weightOf(this.bias, ctx)));
  }

  outputShape(inputShape: number[]): number[] {
    const [t, f] = inputShape;
    return [Math.ceil(t / this.args.strides[0]), Math.ceil(f / this.args.strides[1]), this.args.filters];
  }

  macs(inputShape: number[]): Record<string, number> {
    const [ot, of] = this.outputShape(inputShape);
    const [kt, kf] = this.args.kernel;
    return { [this.kernel.name]: ot * of * kt * kf * this.args.inChannels * this.args.filters };
  }

  dispose(): void {
    for (const p of this.params) p.dispose();
  }
}

/** Architecture options of `ds2` (all optional; `spec.options` holds them; defaults in core/models/options.ts, `DS2`). */
export interface Ds2Options {
  /** Filters of the three convolutions (default [16, 16, 16]; comma-separated text in models saved before lists were kept). */
  filters?: readonly number[] | string;
  /** Kernel extent in time and in frequency of every convolution (default 5 and 5). */
  kernelTime?: number;
  kernelFreq?: number;
  /** Hidden-state width of each H-LSTM direction (default 64; the paper: 800). */
  hidden?: number;
  /** Width of the gate MLPs' hidden layers (default: `hidden`). */
  gateHidden?: number;
  /** Bidirectional H-LSTM layers (default 3). */
  rnnLayers?: number;
  /** Dropout on the gate hidden layers (default 0.2, as in the paper). */
  dropout?: number;
  /** Batch normalisation after each convolution, as in DeepSpeech2 (default true). */
  batchNorm?: boolean;
}

/** Time and frequency strides of the three convolutions. */
const STRIDES: ReadonlyArray<[number, number]> = [[2, 2], [1, 2], [1, 2]];

/** Frames of the output per input frame: the product of the time strides. */
export const DS2_TIME_STRIDE = STRIDES.reduce((s, [t]) => s * t, 1);

/** Output frames of an utterance of `frames` input frames. */
export function ds2OutputLength(frames: number): number {
  return Math.ceil(frames / DS2_TIME_STRIDE);
}

function option(spec: ModelSpec, key: keyof Ds2Options): OptionValue | undefined {
  return spec.options?.[key];
}

function positiveInt(spec: ModelSpec, key: keyof Ds2Options, fallback: number): number {
  const raw = option(spec, key);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new BonsaiError('BONSAI_CORE_DS2_OPTION', `ds2: option ${key} must be a positive integer, got ${JSON.stringify(raw)}`, { option: key, value: raw });
  }
  return value;
}

export class DeepSpeech2 extends MaskedModel {
  readonly layers: Layer[];
  readonly convs: TimeFreqConv[];
  /** Batch norm after each convolution (empty without). */
  readonly norms: BatchNorm[];
  /** Forward and backward cell of each bidirectional layer. */
  readonly rnns: Array<[HLstmCell, HLstmCell]>;
  readonly fc: MaskedDense;
  readonly hidden: number;

  constructor(spec: ModelSpec) {
    super(spec);
    if (spec.inputShape.length !== 2) {
      throw new BonsaiError('BONSAI_CORE_DS2_OPTION', `ds2: inputShape must be [frames, features], got [${spec.inputShape.join(', ')}]`, { inputShape: spec.inputShape });
    }
    const features = spec.inputShape[1];
    const seed = (i: number) => (spec.seed === undefined ? undefined : spec.seed + 100 * i);
    const filters = listOption(option(spec, 'filters'), DS2.options.filters.default);
    if (filters.length !== STRIDES.length || filters.some((f) => !Number.isInteger(f) || f < 1)) {
      throw new BonsaiError('BONSAI_CORE_DS2_OPTION', `ds2: option filters must be ${STRIDES.length} positive integers, got ${JSON.stringify(option(spec, 'filters'))}`, { option: 'filters', value: option(spec, 'filters') });
    }
    const o = DS2.options;
    const kernel: [number, number] = [positiveInt(spec, 'kernelTime', o.kernelTime.default), positiveInt(spec, 'kernelFreq', o.kernelFreq.default)];
    this.hidden = positiveInt(spec, 'hidden', o.hidden.default);
    const gateHidden = positiveInt(spec, 'gateHidden', this.hidden);
    const rnnLayers = positiveInt(spec, 'rnnLayers', o.rnnLayers.default);
    const dropout = Number(option(spec, 'dropout') ?? o.dropout.default);
    if (!(dropout >= 0 && dropout < 1)) {
      throw new BonsaiError('BONSAI_CORE_DS2_OPTION', `ds2: option dropout must be in [0, 1), got ${JSON.stringify(option(spec, 'dropout'))}`, { option: 'dropout', value: option(spec, 'dropout') });
    }
    let channels = 1;
    let freq = features;
    this.convs = filters.map((f, i) => {
      const conv = new TimeFreqConv({ name: `conv${i + 1}`, inChannels: channels, filters: f, kernel, strides: STRIDES[i], sendersAreNeurons: i > 0, seed: seed(i) });
      channels = f;
      freq = Math.ceil(freq / STRIDES[i][1]);
      return conv;
    });
    this.norms = (option(spec, 'batchNorm') ?? o.batchNorm.default) === false ? [] : filters.map((f, i) => new BatchNorm({ name: `bn${i + 1}`, channels: f }));
    let width = freq * channels;
    this.rnns = Array.from({ length: rnnLayers }, (_, i) => {
      const args = { inputSize: width, units: this.hidden, gateHidden, dropout };
      width = 2 * this.hidden;
      return [
        new HLstmCell({ ...args, name: `rnn${i + 1}f`, seed: seed(10 + 2 * i) }),
        new HLstmCell({ ...args, name: `rnn${i + 1}b`, seed: seed(11 + 2 * i) }),
      ] as [HLstmCell, HLstmCell];
    });
    this.fc = new MaskedDense({ name: 'fc', inUnits: width, units: spec.numClasses, seed: seed(30) });
    this.layers = [...this.convs.flatMap((c, i) => (this.norms[i] ? [c, this.norms[i]] : [c])), ...this.rnns.flat(), this.fc];
  }

  get head(): MaskedDense {
    return this.fc;
  }

  /** Logits [batch, ceil(time / 2), classes] for MFCC frames [batch, time, features]. */
  forward(x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
    const [B, T] = x.shape;
    const lengths = sequenceLengthsOf(x) ?? trailingLengths(x);
    if (lengths.length !== B || lengths.some((l) => !Number.isInteger(l) || l < 0 || l > T)) {
      throw new BonsaiError('BONSAI_CORE_DS2_LENGTHS', `ds2: ${lengths.length} sequence lengths [${lengths.join(', ')}] for a batch of ${B} sequences of ${T} frames`, { batch: B, time: T, lengths: [...lengths] });
    }
    return tf.tidy(() => {
      // Pad time to a multiple of the stride so that the strided frame grid of an
      // utterance is the same in every batch ('same' padding depends on parity).
      const padded = Math.ceil(T / DS2_TIME_STRIDE) * DS2_TIME_STRIDE;
      let h: tf.Tensor = x.reshape([B, T, x.shape[2] as number, 1]);
      if (padded !== T) h = h.pad([[0, 0], [0, padded - T], [0, 0], [0, 0]]);
      let frames = padded;
      let valid = [...lengths];
      for (const [i, conv] of this.convs.entries()) {
        h = conv.apply(h, ctx);
        if (this.norms[i]) h = this.norms[i].apply(h, ctx);
        h = leaky(h);
        const stride = conv.args.strides[0];
        frames = Math.ceil(frames / stride);
        valid = valid.map((l) => Math.ceil(l / stride));
        h = h.mul(timeMask(valid, frames).reshape([B, frames, 1, 1]));
      }
      h = h.reshape([B, frames, -1]);
      const reverse = reversal(valid, frames);
      for (const [fwd, bwd] of this.rnns) {
        const [of, ob] = runHLstm([fwd, bwd], [h, tf.matMul(reverse, h as tf.Tensor3D)], ctx);
        h = tf.concat([of, tf.matMul(reverse, ob as tf.Tensor3D)], 2);
      }
      return this.fc.apply(h.reshape([B * frames, 2 * this.hidden]), ctx).reshape([B, frames, this.spec.numClasses]);
    });
  }

  kernelMacs(): Record<string, number> {
    const [frames, features] = this.spec.inputShape;
    let shape = [frames, features, 1];
    const out: Record<string, number> = {};
    for (const conv of this.convs) {
      Object.assign(out, conv.macs(shape));
      shape = conv.outputShape(shape);
    }
    for (const cell of this.rnns.flat()) Object.assign(out, cell.macs([shape[0], cell.inputSize]));
    out[this.fc.kernel.name] = shape[0] * this.fc.inUnits * this.fc.units;
    return out;
  }
}

/** [batch, frames] with 1 where a frame is inside its utterance. */
function timeMask(lengths: readonly number[], frames: number): tf.Tensor {
  const m = new Float32Array(lengths.length * frames);
  lengths.forEach((l, b) => m.fill(1, b * frames, b * frames + Math.min(l, frames)));
  return tf.tensor2d(m, [lengths.length, frames]);
}

/**
 * [batch, frames, frames] permutations that reverse each utterance within its own
 * length and leave the padding in place (an involution: applying it twice is the identity).
 */
function reversal(lengths: readonly number[], frames: number): tf.Tensor3D {
  const p = new Float32Array(lengths.length * frames * frames);
  lengths.forEach((l, b) => {
    for (let t = 0; t < frames; t++) {
      const s = t < l ? l - 1 - t : t;
      p[(b * frames + t) * frames + s] = 1;
    }
  });
  return tf.tensor3d(p, [lengths.length, frames, frames]);
}

/** Valid lengths of a zero-padded batch: up to the last frame with a non-zero value. */
function trailingLengths(x: tf.Tensor): number[] {
  const [B, T] = x.shape;
  const energy = tf.tidy(() => x.abs().reshape([B, T, -1]).sum(2).dataSync());
  return Array.from({ length: B }, (_, b) => {
    let l = T;
    while (l > 0 && energy[b * T + l - 1] === 0) l--;
    return l;
  });
}

/** Registers `ds2` with the model registry (idempotent). */
export function registerDs2(): void {
  registerModel(DS2, (spec) => new DeepSpeech2(spec), { timeStride: DS2_TIME_STRIDE });
}
