import { makeDataset, type Dataset } from '../../core/data/dataset.ts';

/**
 * A seeded, linearly separable-ish classification problem: `classes` Gaussian blobs
 * in `dims` dimensions. Small enough for unit tests.
 */
export function blobs(n: number, dims: number, classes: number, seed: number): Dataset {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const centres = Array.from({ length: classes }, (_, c) => Array.from({ length: dims }, (_, d) => ((c * 7 + d * 3) % 5) - 2 + (d === c % dims ? 3 : 0)));
  const x = new Float32Array(n * dims);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    y[i] = c;
    for (let d = 0; d < dims; d++) {
      const g = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      x[i * dims + d] = centres[c][d] + 2.0 * g;
    }
  }
  return makeDataset(x, y, [dims]);
}
