/**
 * Random affine distortions of training images, the data augmentation of the
 * paper's MNIST experiments (Dai, Yin, Jha, section 5.1: "We introduce affine
 * distortions to the training instances for data augmentation, same as in
 * [37]"). [37] is LeCun, Bottou, Bengio, Haffner, "Gradient-based learning
 * applied to document recognition", Proc. IEEE 1998, whose distorted training
 * patterns combine "horizontal and vertical translations, scaling, squeezing
 * (simultaneous horizontal compression and vertical elongation, or the
 * reverse), and horizontal shearing". We add a small rotation, as most later
 * MNIST work does. The default ranges are our choice (the papers give none):
 * they keep MNIST's 20x20 digit box inside its 28x28 frame and the digit
 * recognisable.
 *
 * Each image gets its own random map, composed about the image centre c:
 *   p_out = R(rotation) . H(shear) . S(scale (1+squeeze), scale / (1+squeeze)) . (p_in - c) + c + t
 * and is resampled with `tf.image.transform` (which takes the inverse map).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../errors.ts';
import { seededRandom } from './dataset.ts';

/** Ranges of the random distortions; each value is drawn uniformly and independently per image. */
export interface AugmentArgs {
  /** Distort at all; when false `apply` returns the images unchanged (as a new tensor handle). Default true. */
  enabled: boolean;
  /** Fraction of the images of a batch that are distorted; the others pass unchanged. Default 1. */
  probability: number;
  /** Largest rotation in degrees, drawn from [-max, max]. Default 15. */
  maxRotationDeg: number;
  /** Smallest and largest isotropic scale factor. Default [0.9, 1.1]. */
  scaleRange: [number, number];
  /** Largest squeeze q: width scaled by (1 + q), height by 1 / (1 + q), q from [-max, max]. Default 0.1. */
  maxSqueeze: number;
  /** Largest horizontal shear factor k (x += k * y, k = tan of the shear angle), from [-max, max]. Default 0.2 (about 11 degrees). */
  maxShear: number;
  /** Largest shift in pixels along each axis, from [-max, max] (sub-pixel shifts included). Default 2. */
  maxTranslatePx: number;
  /** Resampling: 'bilinear' (default) or 'nearest'. */
  interpolation: 'bilinear' | 'nearest';
  /** Value of output pixels that map from outside the input. Default 0, MNIST's background. */
  fillValue: number;
  /** Seed of the random draws; equal seeds give equal distortions for equal call sequences. Default 0. */
  seed: number;
}

/** The defaults of `AugmentArgs`. */
export const DEFAULT_AUGMENT_ARGS: Readonly<AugmentArgs> = Object.freeze({
  enabled: true,
  probability: 1,
  maxRotationDeg: 15,
  scaleRange: [0.9, 1.1] as [number, number],
  maxSqueeze: 0.1,
  maxShear: 0.2,
  maxTranslatePx: 2,
  interpolation: 'bilinear' as const,
  fillValue: 0,
  seed: 0,
});

/** One concrete distortion. The identity is rotation 0, scale 1, squeeze 0, shear 0, translation 0. */
export interface AffineParams {
  /** Rotation in degrees (positive turns +x towards +y, i.e. clockwise on screen where y points down). */
  rotationDeg: number;
  /** Isotropic scale factor. */
  scale: number;
  /** Squeeze q: width times (1 + q), height divided by (1 + q). */
  squeeze: number;
  /** Horizontal shear factor k: x += k * y, in coordinates centred on the image centre. */
  shear: number;
  /** Shift right in pixels. */
  translateX: number;
  /** Shift down in pixels. */
  translateY: number;
}

/** The identity distortion. */
export const IDENTITY_AFFINE: Readonly<AffineParams> = Object.freeze({ rotationDeg: 0, scale: 1, squeeze: 0, shear: 0, translateX: 0, translateY: 0 });

/** Checks and completes partial args with the defaults. */
export function augmentArgs(args: Partial<AugmentArgs> = {}): AugmentArgs {
  const a: AugmentArgs = { ...DEFAULT_AUGMENT_ARGS, scaleRange: [...DEFAULT_AUGMENT_ARGS.scaleRange], ...args };
  const bad = (field: string, value: unknown, why: string): never => {
    throw new BonsaiError('BONSAI_DATA_AUGMENT_BAD_ARGS', `augmentation ${field} = ${JSON.stringify(value)} ${why}`, { field, value });
  };
  for (const f of ['maxRotationDeg', 'maxSqueeze', 'maxShear', 'maxTranslatePx'] as const) {
    if (!Number.isFinite(a[f]) || a[f] < 0) bad(f, a[f], 'must be a finite number >= 0');
  }
  if (a.maxSqueeze >= 1) bad('maxSqueeze', a.maxSqueeze, 'must be below 1');
  if (!Number.isFinite(a.probability) || a.probability < 0 || a.probability > 1) bad('probability', a.probability, 'must lie in [0, 1]');
  const [lo, hi] = a.scaleRange;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo > 0 && lo <= hi)) bad('scaleRange', a.scaleRange, 'must be [low, high] with 0 < low <= high');
  if (a.interpolation !== 'bilinear' && a.interpolation !== 'nearest') bad('interpolation', a.interpolation, "must be 'bilinear' or 'nearest'");
  if (!Number.isFinite(a.fillValue)) bad('fillValue', a.fillValue, 'must be finite');
  if (!Number.isFinite(a.seed)) bad('seed', a.seed, 'must be finite');
  return a;
}

/** Draws one distortion from the ranges of `args` (identity with probability 1 - `probability`). */
export function drawAffineParams(args: AugmentArgs, random: () => number): AffineParams {
  const sym = (max: number): number => (2 * random() - 1) * max;
  const distort = random() < args.probability;
  const [lo, hi] = args.scaleRange;
  const p: AffineParams = {
    rotationDeg: sym(args.maxRotationDeg),
    scale: lo + (hi - lo) * random(),
    squeeze: sym(args.maxSqueeze),
    shear: sym(args.maxShear),
    translateX: sym(args.maxTranslatePx),
    translateY: sym(args.maxTranslatePx),
  };
  // The draws above happen either way, so the stream stays aligned across images.
  return distort ? p : { ...IDENTITY_AFFINE };
}

/**
 * The 8 numbers `tf.image.transform` takes for `params` on a `height` x
 * `width` image: the inverse map from output pixel (x, y) to input pixel
 * (a0 x + a1 y + a2, b0 x + b1 y + b2), with c0 = c1 = 0.
 */
export function affineMatrix(params: AffineParams, height: number, width: number): number[] {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const th = (params.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const sx = params.scale * (1 + params.squeeze);
  const sy = params.scale / (1 + params.squeeze);
  const k = params.shear;
  // A = R . H . S with H = [[1, k], [0, 1]], S = diag(sx, sy)
  const m00 = cos * sx;
  const m01 = (cos * k - sin) * sy;
  const m10 = sin * sx;
  const m11 = (sin * k + cos) * sy;
  const det = m00 * m11 - m01 * m10;
  if (!(Number.isFinite(det) && Math.abs(det) > 1e-12)) {
    throw new BonsaiError('BONSAI_DATA_AUGMENT_BAD_ARGS', `affine map ${JSON.stringify(params)} is not invertible (determinant ${det})`, { params: { ...params }, det });
  }
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;
  // p_in = A^-1 (p_out - c - t) + c
  const ox = cx + params.translateX;
  const oy = cy + params.translateY;
  return [i00, i01, cx - i00 * ox - i01 * oy, i10, i11, cy - i10 * ox - i11 * oy, 0, 0];
}

/** Options of `affineTransform`. */
export interface TransformOptions {
  /** 'bilinear' (default) or 'nearest'. */
  interpolation?: 'bilinear' | 'nearest';
  /** Value outside the input (constant fill). Default 0. */
  fillValue?: number;
  /**
   * 'auto' (default): the backend's Transform kernel where it handles batches
   * correctly, else 'host' on the cpu backend and 'gather' elsewhere.
   * 'kernel': `tf.image.transform`. 'gather': tensor ops on any backend.
   * 'host': plain JavaScript on the values (read back from the backend).
   */
  method?: 'auto' | 'kernel' | 'gather' | 'host';
}

/**
 * Resamples each image of `images` [B, H, W, C] with its own row of
 * `transforms` (B x 8, `tf.image.transform` convention). Returns a new
 * tensor of the same shape; the caller owns it.
 *
 * Where the backend's Transform kernel is missing or wrong for batches (the
 * cpu kernel of tfjs-backend-cpu 4.22 returns after the first image and leaves
 * the rest at the fill value), the same bilinear resampling runs from a
 * sampling plan (four neighbours and weights per output pixel): in plain
 * JavaScript on the cpu backend, as gather + weighted sum on any other.
 */
export function affineTransform(images: tf.Tensor4D, transforms: Float32Array | number[][], options: TransformOptions = {}): tf.Tensor4D {
  if (images.rank !== 4) {
    throw new BonsaiError('BONSAI_DATA_AUGMENT_BAD_INPUT', `images must be [batch, height, width, channels], got shape [${images.shape.join(', ')}]`, { shape: images.shape });
  }
  const [b] = images.shape;
  const flat = transforms instanceof Float32Array ? transforms : Float32Array.from(transforms.flat());
  if (flat.length !== 8 * b) {
    throw new BonsaiError('BONSAI_DATA_AUGMENT_BAD_INPUT', `${b} images need ${b} x 8 transform numbers, got ${flat.length}`, { batch: b, transforms: flat.length });
  }
  const interpolation = options.interpolation ?? 'bilinear';
  const fillValue = options.fillValue ?? 0;
  const method = options.method ?? 'auto';
  const chosen = method !== 'auto' ? method : kernelHandlesBatch(b) ? 'kernel' : tf.getBackend() === 'cpu' ? 'host' : 'gather';
  if (chosen === 'kernel') {
    return tf.tidy(() => tf.image.transform(images, tf.tensor2d(flat, [b, 8]), interpolation, 'constant', fillValue));
  }
  const plan = samplingPlan(b, images.shape[1], images.shape[2], flat, interpolation, fillValue);
  return chosen === 'host' ? hostTransform(images, plan) : gatherTransform(images, plan);
}

/** Per backend name: does its Transform kernel exist and transform every image of a batch? */
const kernelVerdicts = new Map<string, boolean>();

/** Whether `tf.image.transform` on the current backend can be trusted with a batch of `batch` images. */
export function kernelHandlesBatch(batch = 2): boolean {
  const backend = tf.getBackend();
  if (tf.getKernel('Transform', backend) === undefined) return false;
  if (batch <= 1) return true;
  let ok = kernelVerdicts.get(backend);
  if (ok === undefined) {
    // Probe once: identity maps on two 1x1 images of ones must give two ones.
    const out = tf.tidy(() => tf.image.transform(tf.ones([2, 1, 1, 1]) as tf.Tensor4D, tf.tensor2d([[1, 0, 0, 0, 1, 0, 0, 0], [1, 0, 0, 0, 1, 0, 0, 0]]), 'nearest', 'constant', 0));
    const values = out.dataSync();
    out.dispose();
    ok = values[0] === 1 && values[1] === 1;
    kernelVerdicts.set(backend, ok);
  }
  return ok;
}

/** Where each output pixel reads: up to four input pixels with weights, plus a constant (the fill's share). */
interface SamplingPlan {
  /** 4 per output pixel: flat pixel index into [B * H * W]. */
  index: Int32Array;
  /** 4 per output pixel: interpolation weight (0 for neighbours outside the input). */
  weight: Float32Array;
  /** 1 per output pixel: fillValue times the weight of the neighbours outside the input. */
  fill: Float32Array;
}

/** Bilinear (or nearest) sampling with constant fill, as tfjs' Transform kernels compute it. */
function samplingPlan(b: number, h: number, w: number, transforms: Float32Array, interpolation: 'bilinear' | 'nearest', fillValue: number): SamplingPlan {
  const n = b * h * w;
  const index = new Int32Array(4 * n);
  const weight = new Float32Array(4 * n);
  const fill = new Float32Array(n);
  const put = (o: number, corner: number, img: number, y: number, x: number, wt: number): void => {
    if (y >= 0 && y < h && x >= 0 && x < w) {
      index[4 * o + corner] = img * h * w + y * w + x;
      weight[4 * o + corner] = wt;
    } else {
      fill[o] += wt * fillValue;
    }
  };
  for (let img = 0; img < b; img++) {
    const t = transforms.subarray(img * 8, img * 8 + 8);
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        const o = (img * h + oy) * w + ox;
        const k = t[6] * ox + t[7] * oy + 1;
        if (k === 0) {
          fill[o] = fillValue;
          continue;
        }
        const x = (t[0] * ox + t[1] * oy + t[2]) / k;
        const y = (t[3] * ox + t[4] * oy + t[5]) / k;
        if (interpolation === 'nearest') {
          put(o, 0, img, Math.round(y), Math.round(x), 1);
          continue;
        }
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const fx = x - x0;
        const fy = y - y0;
        put(o, 0, img, y0, x0, (1 - fx) * (1 - fy));
        put(o, 1, img, y0, x0 + 1, fx * (1 - fy));
        put(o, 2, img, y0 + 1, x0, (1 - fx) * fy);
        put(o, 3, img, y0 + 1, x0 + 1, fx * fy);
      }
    }
  }
  return { index, weight, fill };
}

/** The plan applied with tensor ops (gather of the neighbours, weighted sum): stays on the backend's device. */
function gatherTransform(images: tf.Tensor4D, plan: SamplingPlan): tf.Tensor4D {
  const [b, h, w, c] = images.shape;
  const n = b * h * w;
  return tf.tidy(() => {
    const rows = tf.gather(tf.reshape(images, [n, c]), tf.tensor1d(plan.index, 'int32'));
    const weighted = tf.mul(tf.reshape(rows, [n, 4, c]), tf.tensor3d(plan.weight, [n, 4, 1]));
    const summed = tf.add(tf.sum(weighted, 1), tf.tensor2d(plan.fill, [n, 1]));
    return tf.reshape(summed, [b, h, w, c]);
  });
}

/** The plan applied in plain JavaScript on the host values; the fastest path where tensors live in host memory (cpu). */
function hostTransform(images: tf.Tensor4D, plan: SamplingPlan): tf.Tensor4D {
  const [b, h, w, c] = images.shape;
  const src = images.dataSync();
  const out = new Float32Array(b * h * w * c);
  const { index, weight, fill } = plan;
  for (let o = 0; o < b * h * w; o++) {
    const i0 = index[4 * o] * c;
    const i1 = index[4 * o + 1] * c;
    const i2 = index[4 * o + 2] * c;
    const i3 = index[4 * o + 3] * c;
    const w0 = weight[4 * o];
    const w1 = weight[4 * o + 1];
    const w2 = weight[4 * o + 2];
    const w3 = weight[4 * o + 3];
    for (let ch = 0; ch < c; ch++) {
      out[o * c + ch] = w0 * src[i0 + ch] + w1 * src[i1 + ch] + w2 * src[i2 + ch] + w3 * src[i3 + ch] + fill[o];
    }
  }
  return tf.tensor4d(out, [b, h, w, c], 'float32');
}

/** Applies seeded random affine distortions to batches of images; each `apply` advances the random stream. */
export class AffineDistortion {
  /** The checked, complete arguments. */
  readonly args: Readonly<AugmentArgs>;
  private readonly random: () => number;

  constructor(args: Partial<AugmentArgs> = {}) {
    this.args = Object.freeze(augmentArgs(args));
    this.random = seededRandom(this.args.seed);
  }

  /** The next batch's transforms (B x 8) without applying them. */
  nextTransforms(batch: number, height: number, width: number): Float32Array {
    const out = new Float32Array(batch * 8);
    for (let i = 0; i < batch; i++) out.set(affineMatrix(drawAffineParams(this.args, this.random), height, width), i * 8);
    return out;
  }

  /** Distorts `images` [B, H, W, C]; returns a new tensor the caller owns (the input is left alone). */
  apply(images: tf.Tensor4D): tf.Tensor4D {
    if (images.rank !== 4) {
      throw new BonsaiError('BONSAI_DATA_AUGMENT_BAD_INPUT', `images must be [batch, height, width, channels], got shape [${images.shape.join(', ')}]`, { shape: images.shape });
    }
    if (!this.args.enabled) return tf.clone(images);
    const [b, h, w] = images.shape;
    return affineTransform(images, this.nextTransforms(b, h, w), { interpolation: this.args.interpolation, fillValue: this.args.fillValue });
  }
}

/** Creates an `AffineDistortion` from partial args (the rest from `DEFAULT_AUGMENT_ARGS`). */
export function affineDistortion(args: Partial<AugmentArgs> = {}): AffineDistortion {
  return new AffineDistortion(args);
}
