/**
 * Magnitude-based pruning (paper section 4.3.1, eq. 3) with the recoverable
 * condition of section 4.3.2: no neuron (unit, filter) loses its last input or its
 * last output connection.
 *
 * One iteration removes the `pruneFraction` (beta) smallest-magnitude live
 * connections of a tensor. Connections whose removal would leave a receiving unit
 * without inputs, or a sending neuron without outputs in this tensor, are skipped
 * when `recoverable` is set and the next smallest is taken instead.
 */

export interface PruneArgs {
  /** Weight values, row-major. */
  values: ArrayLike<number>;
  /** Current mask (0/1), same layout. */
  mask: ArrayLike<number>;
  /** Tensor shape. */
  shape: number[];
  /** Axis indexing the receiving unit (dense kernel [in,out]: 1). */
  outAxis: number;
  /** Axis indexing the sending unit (dense kernel: 0). */
  inAxis: number;
  /** Fraction of the live connections to remove (0.05 = beta of 5 %). */
  fraction: number;
  /** Keep every receiving unit's last input and every sending neuron's last output. */
  recoverable: boolean;
  /** Whether senders are neurons (false for the first layer: inputs may lose all their connections). */
  sendersAreNeurons: boolean;
}

export interface PruneDecision {
  mask: Float32Array;
  /** Flat indices pruned. */
  pruned: Int32Array;
}

/** Index along `axis` of the flat position `flat` in a row-major tensor of `shape`. */
function axisIndex(flat: number, shape: number[], axis: number): number {
  let stride = 1;
  for (let a = shape.length - 1; a > axis; a--) stride *= shape[a];
  return Math.floor(flat / stride) % shape[axis];
}

export function pruneMask(args: PruneArgs): PruneDecision {
  const { values, mask, shape, outAxis, inAxis, fraction, recoverable, sendersAreNeurons } = args;
  const n = mask.length;
  const out = Float32Array.from(mask);
  let liveCount = 0;
  for (let i = 0; i < n; i++) if (mask[i] !== 0) liveCount++;
  const target = Math.floor(liveCount * fraction);
  if (target === 0) return { mask: out, pruned: new Int32Array(0) };
  const live = new Int32Array(liveCount);
  const magnitudes = new Float32Array(liveCount);
  for (let i = 0, k = 0; i < n; i++) {
    if (mask[i] !== 0) {
      live[k] = i;
      magnitudes[k++] = Math.abs(values[i]);
    }
  }
  const inputsOf = new Int32Array(shape[outAxis]);
  const outputsOf = new Int32Array(shape[inAxis]);
  if (recoverable) {
    for (const i of live) {
      inputsOf[axisIndex(i, shape, outAxis)] += 1;
      outputsOf[axisIndex(i, shape, inAxis)] += 1;
    }
  }
  // Only the smallest candidates need ordering: take those up to the magnitude of the
  // (2 * target)-th smallest, and widen to all live connections if skips exhaust them.
  const sorted = Float32Array.from(magnitudes).sort();
  const pruned: number[] = [];
  for (const bound of [sorted[Math.min(liveCount - 1, 2 * target)], Infinity]) {
    const candidates: number[] = [];
    for (let k = 0; k < liveCount; k++) if (magnitudes[k] <= bound && out[live[k]] !== 0) candidates.push(k);
    candidates.sort((a, b) => magnitudes[a] - magnitudes[b] || a - b);
    for (const k of candidates) {
      if (pruned.length >= target) break;
      const i = live[k];
      if (recoverable) {
        const u = axisIndex(i, shape, outAxis);
        const s = axisIndex(i, shape, inAxis);
        if (inputsOf[u] <= 1) continue;
        if (sendersAreNeurons && outputsOf[s] <= 1) continue;
        inputsOf[u] -= 1;
        outputsOf[s] -= 1;
      }
      out[i] = 0;
      pruned.push(i);
    }
    if (pruned.length >= target) break;
  }
  return { mask: out, pruned: Int32Array.from(pruned) };
}

/**
 * Per-tensor fractions that together remove the `fraction` smallest-magnitude live
 * connections of all tensors at once (one percentile over every |W|, not one per tensor):
 * layers whose connections matter less by magnitude (usually the largest, with the
 * smallest initial scale) lose more. Ties at the threshold go to the tensors in order.
 * Each fraction is for `pruneMask`, which removes floor(live * fraction) connections.
 */
export function globalFractions(tensors: ReadonlyArray<{ values: ArrayLike<number>; mask: ArrayLike<number> }>, fraction: number): number[] {
  const liveOf = tensors.map((t) => {
    let live = 0;
    for (let i = 0; i < t.mask.length; i++) if (t.mask[i] !== 0) live++;
    return live;
  });
  const total = liveOf.reduce((a, b) => a + b, 0);
  const target = Math.floor(total * fraction);
  if (target === 0) return tensors.map(() => 0);
  const magnitudes = new Float32Array(total);
  let k = 0;
  for (const t of tensors) for (let i = 0; i < t.mask.length; i++) if (t.mask[i] !== 0) magnitudes[k++] = Math.abs(t.values[i]);
  magnitudes.sort();
  const threshold = magnitudes[target - 1];
  // Below the threshold: all of them; at it: as many as the target still needs.
  const counts = tensors.map((t) => {
    let below = 0;
    let at = 0;
    for (let i = 0; i < t.mask.length; i++) {
      if (t.mask[i] === 0) continue;
      const m = Math.fround(Math.abs(t.values[i]));
      if (m < threshold) below++;
      else if (m === threshold) at++;
    }
    return { below, at };
  });
  let ties = target - counts.reduce((a, c) => a + c.below, 0);
  return tensors.map((_, j) => {
    const atTaken = Math.min(counts[j].at, ties);
    ties -= atTaken;
    const count = counts[j].below + atTaken;
    // Half a connection above the count, so floor(live * fraction) in pruneMask is the count exactly.
    return liveOf[j] === 0 || count === 0 ? 0 : Math.min(1, (count + 0.5) / liveOf[j]);
  });
}
