/**
 * The paper's reported numbers (Dai, Yin, Jha, "Incremental Learning Using a
 * Grow-and-Prune Paradigm with Efficient Neural Networks", IEEE TETC 2020),
 * Tables 2-5, for side-by-side comparison. Error in %, parameters in thousands,
 * training epochs as the paper counts them (pruning retraining included).
 */

export interface PaperRow {
  fraction: number;
  error: { tfs: number; nft: number; ours: number };
  paramsK: { tfs: number; nft: number; ours: number };
  epochs: { tfs: number; nft: number; ours: number };
}

function rows(data: number[][]): PaperRow[] {
  return data.map(([f, e1, e2, e3, p1, p2, p3, t1, t2, t3]) => ({
    fraction: f,
    error: { tfs: e1, nft: e2, ours: e3 },
    paramsK: { tfs: p1, nft: p2, ours: p3 },
    epochs: { tfs: t1, nft: t2, ours: t3 },
  }));
}

/** Table 4: LeNet-300-100 on MNIST. */
export const TABLE4_LENET300 = rows([
  [0.1, 2.27, 2.27, 2.19, 19.4, 19.4, 13.9, 141, 141, 166],
  [0.2, 1.80, 1.84, 1.70, 22.7, 20.5, 17.6, 131, 136, 109],
  [0.3, 1.66, 1.68, 1.60, 23.9, 21.5, 17.0, 136, 130, 93],
  [0.4, 1.63, 1.62, 1.55, 20.5, 22.7, 13.8, 131, 124, 79],
  [0.5, 1.58, 1.66, 1.51, 26.5, 23.9, 17.0, 135, 135, 85],
  [0.6, 1.43, 1.51, 1.39, 27.8, 29.3, 26.5, 140, 109, 71],
  [0.7, 1.41, 1.42, 1.35, 25.1, 26.5, 21.2, 139, 133, 70],
  [0.8, 1.41, 1.42, 1.36, 29.3, 27.8, 21.1, 141, 127, 66],
  [0.9, 1.41, 1.43, 1.33, 27.8, 30.9, 20.8, 134, 124, 58],
  [1.0, 1.40, 1.41, 1.33, 31.3, 32.5, 21.7, 137, 131, 49],
]);

/** Table 5: LeNet-5 on MNIST. */
export const TABLE5_LENET5 = rows([
  [0.1, 1.62, 1.62, 1.45, 5.3, 5.3, 4.9, 148, 148, 162],
  [0.2, 1.28, 1.30, 1.23, 5.9, 6.5, 5.5, 141, 126, 110],
  [0.3, 1.01, 1.05, 0.97, 6.5, 6.2, 6.2, 136, 118, 92],
  [0.4, 0.97, 0.99, 0.92, 6.5, 6.8, 5.9, 151, 134, 80],
  [0.5, 0.95, 1.00, 0.93, 7.2, 6.8, 6.0, 135, 141, 83],
  [0.6, 0.93, 0.97, 0.90, 8.8, 7.6, 7.5, 120, 119, 69],
  [0.7, 0.90, 0.94, 0.87, 8.0, 8.4, 6.3, 129, 99, 66],
  [0.8, 0.90, 0.90, 0.87, 7.6, 8.8, 7.1, 131, 119, 52],
  [0.9, 0.88, 0.91, 0.87, 10.9, 9.8, 7.9, 124, 127, 56],
  [1.0, 0.88, 0.90, 0.83, 10.3, 10.2, 7.9, 129, 115, 43],
]);

/** Table 3: recoverable vs non-recoverable pruning (error %, parameters K). */
export const TABLE3 = {
  lenet300: { recoverable: { error: 1.33, paramsK: 21.7 }, nonRecoverable: { error: 1.40, paramsK: 12.2 } },
  lenet5: { recoverable: { error: 0.83, paramsK: 7.9 }, nonRecoverable: { error: 0.88, paramsK: 5.4 } },
} as const;

/** Table 2: LeNet-300-100, 90% -> 100% update, epochs to reach 98.67 % accuracy. */
export const TABLE2 = { targetAccuracy: 0.9867, merged: { allEpochs: 49 }, newDataFirst: { newEpochs: 15, allEpochs: 20, equivalent: 21.5 } } as const;

/** Han et al. 2015 (Learning both weights and connections), for the README comparison. */
export const HAN2015 = { lenet300: { error: 1.59, compression: 12 }, lenet5: { error: 0.77, compression: 12 } } as const;

export function paperTable(model: string): PaperRow[] | null {
  return model === 'lenet300' ? TABLE4_LENET300 : model === 'lenet5' ? TABLE5_LENET5 : null;
}
