/**
 * The mel scale and the triangular mel filterbank as in HTK (S. Young et al.,
 * "The HTK Book", section 5.4): mel(f) = 2595 log10(1 + f / 700); filter
 * centres equally spaced in mel between the low and high edges; each filter a
 * triangle that is linear in mel, evaluated at the exact frequency of each FFT
 * bin (no rounding of the edges to bins).
 */

/** Hz to mel (HTK / O'Shaughnessy). */
export function hzToMel(hz: number): number {
  return 2595 * Math.log10(1 + hz / 700);
}

/** Mel to Hz, the inverse of `hzToMel`. */
export function melToHz(mel: number): number {
  return 700 * (10 ** (mel / 2595) - 1);
}

/** A triangular filterbank over the bins of one FFT size, stored sparsely. */
export interface MelFilterbank {
  /** Number of filters. */
  filters: number;
  /** Bins of the power spectrum it applies to (fftSize / 2 + 1). */
  bins: number;
  /** filters + 2 edge frequencies in Hz: filter m rises from edgesHz[m] to edgesHz[m+1] and falls to edgesHz[m+2]. */
  edgesHz: Float64Array;
  /** First bin with a non-zero weight, per filter. */
  start: Int32Array;
  /** Non-zero weights from `start` on, per filter (empty when no bin falls inside the filter). */
  weights: Float64Array[];
}

/** Weight of the triangle with mel edges (l, c, r) at mel value `mel`. */
function triangle(mel: number, l: number, c: number, r: number): number {
  if (mel <= l || mel >= r) return 0;
  return mel <= c ? (mel - l) / (c - l) : (r - mel) / (r - c);
}

/** Weight of filter `m` of `fb` at frequency `hz` (0 outside the filter). */
export function melWeight(fb: MelFilterbank, m: number, hz: number): number {
  return triangle(hzToMel(hz), hzToMel(fb.edgesHz[m]), hzToMel(fb.edgesHz[m + 1]), hzToMel(fb.edgesHz[m + 2]));
}

/**
 * The first filter of the bank that `melFilterbank` builds with these arguments that no FFT bin
 * falls inside (all its weights zero: its log energy is the floor in every frame), or -1 when
 * each has one. Found without building the bank: bin k lies at mel(k * sampleRate / fftSize),
 * filter m takes the bins strictly between its edges m and m + 2, and both rise with m. The
 * configuration repeats this arithmetic (config/schema.ts; test/config/load.test.ts compares).
 */
export function firstEmptyFilter(sampleRate: number, fftSize: number, filters: number, lowHz: number, highHz: number): number {
  const bins = fftSize / 2 + 1;
  const lowMel = hzToMel(lowHz);
  const highMel = hzToMel(highHz);
  const edge = (i: number): number => lowMel + ((highMel - lowMel) * i) / (filters + 1);
  const binMel = (k: number): number => hzToMel((k * sampleRate) / fftSize);
  let k = 0;
  for (let m = 0; m < filters; m++) {
    const left = edge(m);
    while (k < bins && binMel(k) <= left) k++;
    if (k === bins || binMel(k) >= edge(m + 2)) return m;
  }
  return -1;
}

/** Builds the filterbank of `filters` triangles between lowHz and highHz for an fftSize-point FFT at sampleRate. */
export function melFilterbank(sampleRate: number, fftSize: number, filters: number, lowHz: number, highHz: number): MelFilterbank {
  const bins = fftSize / 2 + 1;
  const lowMel = hzToMel(lowHz);
  const highMel = hzToMel(highHz);
  const edgesMel = new Float64Array(filters + 2);
  for (let i = 0; i < filters + 2; i++) edgesMel[i] = lowMel + ((highMel - lowMel) * i) / (filters + 1);
  const edgesHz = edgesMel.map(melToHz);
  const binMel = new Float64Array(bins);
  for (let k = 0; k < bins; k++) binMel[k] = hzToMel((k * sampleRate) / fftSize);
  const start = new Int32Array(filters);
  const weights: Float64Array[] = [];
  for (let m = 0; m < filters; m++) {
    const [l, c, r] = [edgesMel[m], edgesMel[m + 1], edgesMel[m + 2]];
    let first = -1;
    let last = -1;
    for (let k = 0; k < bins; k++) {
      if (triangle(binMel[k], l, c, r) > 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    start[m] = Math.max(first, 0);
    const w = new Float64Array(first < 0 ? 0 : last - first + 1);
    for (let j = 0; j < w.length; j++) w[j] = triangle(binMel[first + j], l, c, r);
    weights.push(w);
  }
  return { filters, bins, edgesHz, start, weights };
}
