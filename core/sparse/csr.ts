/**
 * Compressed sparse row (CSR) kernels of a masked dense layer for inference:
 * only the live connections of W*M (paper section 4.2.1) are stored and
 * multiplied, so a layer at density d costs about d of its dense
 * multiply-accumulates. Plain JS typed arrays; no tensors, no gradients.
 *
 * Rows index the layer's inputs and columns its outputs (the [in, out] layout of
 * `MaskedDense`'s kernel), so `y = x W + b` walks each input's live connections.
 *
 * Serving runs the WebAssembly SIMD kernel instead (core/sparse/sparse-chain.ts);
 * this scalar one is what `npm run bench:sparse` compares it with.
 */
import { BonsaiError } from '../errors.ts';

/** The live connections of one [rows, cols] kernel. */
export interface CsrMatrix {
  /** Number of inputs (kernel rows). */
  readonly rows: number;
  /** Number of outputs (kernel columns). */
  readonly cols: number;
  /** `rows + 1` offsets: row i's entries are `rowPtr[i] .. rowPtr[i + 1] - 1`. */
  readonly rowPtr: Int32Array;
  /** Output column of each entry. */
  readonly colIdx: Int32Array;
  /** Weight of each entry. */
  readonly values: Float32Array;
}

/**
 * Samples from which `csrMatMul` works on the transposed batch (each live
 * connection then updates a contiguous run of samples); below it, sample by
 * sample, skipping zero inputs. Measured by `npm run bench:sparse`.
 */
export const CSR_BATCHED_FROM = 4;

/** The CSR form of `weights` [rows, cols] row-major, keeping the entries where `mask` is not 0. */
export function csrFromMasked(weights: Float32Array, mask: Float32Array, rows: number, cols: number): CsrMatrix {
  if (weights.length !== rows * cols || mask.length !== rows * cols) {
    throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `a [${rows}, ${cols}] kernel needs ${rows * cols} weights and mask entries, got ${weights.length} and ${mask.length}`,
      { rows, cols, weights: weights.length, mask: mask.length });
  }
  let nnz = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) nnz++;
  const rowPtr = new Int32Array(rows + 1);
  const colIdx = new Int32Array(nnz);
  const values = new Float32Array(nnz);
  let k = 0;
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) {
      if (mask[base + j] !== 0) {
        colIdx[k] = j;
        values[k] = weights[base + j];
        k++;
      }
    }
    rowPtr[i + 1] = k;
  }
  return { rows, cols, rowPtr, colIdx, values };
}

/** Live entries over all entries. */
export function csrDensity(a: CsrMatrix): number {
  return a.rows * a.cols === 0 ? 1 : a.values.length / (a.rows * a.cols);
}

/**
 * `x W + b` for `n` samples: `x` is [n, rows] row-major, the result [n, cols].
 * `bias` (length cols) may be null.
 */
export function csrMatMul(x: Float32Array, n: number, a: CsrMatrix, bias: Float32Array | null): Float32Array {
  if (x.length !== n * a.rows) {
    throw new BonsaiError('BONSAI_CORE_SPARSE_SHAPE', `${n} samples of ${a.rows} inputs need ${n * a.rows} values, got ${x.length}`, { n, rows: a.rows, values: x.length });
  }
  return n >= CSR_BATCHED_FROM ? batched(x, n, a, bias) : bySample(x, n, a, bias);
}

/** One sample at a time: scatter each non-zero input along its live connections. */
function bySample(x: Float32Array, n: number, a: CsrMatrix, bias: Float32Array | null): Float32Array {
  const { rows, cols, rowPtr, colIdx, values } = a;
  const y = new Float32Array(n * cols);
  for (let b = 0; b < n; b++) {
    const xo = b * rows;
    const yo = b * cols;
    if (bias !== null) y.set(bias, yo);
    for (let i = 0; i < rows; i++) {
      const xv = x[xo + i];
      if (xv === 0) continue;
      const end = rowPtr[i + 1];
      for (let k = rowPtr[i]; k < end; k++) y[yo + colIdx[k]] += xv * values[k];
    }
  }
  return y;
}

/** The batch transposed to [rows, n]: each live connection is one contiguous axpy over the samples. */
function batched(x: Float32Array, n: number, a: CsrMatrix, bias: Float32Array | null): Float32Array {
  const { rows, cols, rowPtr, colIdx, values } = a;
  const xt = transpose(x, n, rows);
  const yt = new Float32Array(cols * n);
  if (bias !== null) for (let j = 0; j < cols; j++) yt.fill(bias[j], j * n, (j + 1) * n);
  for (let i = 0; i < rows; i++) {
    const xo = i * n;
    const end = rowPtr[i + 1];
    for (let k = rowPtr[i]; k < end; k++) {
      const w = values[k];
      const yo = colIdx[k] * n;
      for (let b = 0; b < n; b++) yt[yo + b] += w * xt[xo + b];
    }
  }
  return transpose(yt, cols, n);
}

/** [r, c] row-major to [c, r] row-major. */
function transpose(m: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    const o = i * c;
    for (let j = 0; j < c; j++) t[j * r + i] = m[o + j];
  }
  return t;
}
