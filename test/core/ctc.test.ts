import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ctcLoss, ctcMinInputLength } from '../../core/losses/ctc.ts';
import { BonsaiError } from '../../core/errors.ts';
import { noLeaks } from '../helpers/tensors.ts';

await tf.setBackend('cpu');

/** softmax of one frame, in float64. */
function softmax(row: readonly number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** CTC's many-to-one map B: merge repeats, then drop blanks. */
function collapse(path: readonly number[], blank: number): number[] {
  return path.filter((k, t) => k !== blank && (t === 0 || path[t - 1] !== k));
}

/**
 * Reference by brute force in float64: enumerate every path of `frames` steps,
 * keep those that collapse to `label`, and return -log p and the gradient
 * d(-log p)/d logits[t][k] = y[t][k] - sum over kept paths with path[t] = k of P(path) / p.
 */
function bruteForce(logits: readonly (readonly number[])[], frames: number, label: readonly number[], blank = 0): { loss: number; grad: number[][] } {
  const classes = logits[0].length;
  const y = logits.slice(0, frames).map(softmax);
  let p = 0;
  const occupancy = Array.from({ length: frames }, () => new Array<number>(classes).fill(0));
  const path = new Array<number>(frames).fill(0);
  for (let n = 0; n < classes ** frames; n++) {
    let rest = n;
    for (let t = 0; t < frames; t++) { path[t] = rest % classes; rest = Math.floor(rest / classes); }
    const c = collapse(path, blank);
    if (c.length !== label.length || c.some((k, i) => k !== label[i])) continue;
    const prob = path.reduce((acc, k, t) => acc * y[t][k], 1);
    p += prob;
    path.forEach((k, t) => { occupancy[t][k] += prob; });
  }
  const grad = logits.map((row, t) => row.map((_, k) => (t < frames ? y[t][k] - occupancy[t][k] / p : 0)));
  return { loss: -Math.log(p), grad };
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

test('ctcLoss equals the hand-enumerated alignments for T=3, label [1]', async () => {
  await noLeaks(() => {
    // classes: 0 = blank, 1 = 'a'. Frames' logits chosen so that no two are alike.
    const rows = [[0.2, -0.4], [1.0, 0.3], [-0.5, 0.7]];
    const y = rows.map(softmax);
    const [b, a] = [0, 1];
    // The six paths of length 3 that collapse to "a": aaa, aa-, a--, -aa, --a, -a-.
    const p = y[0][a] * y[1][a] * y[2][a]
      + y[0][a] * y[1][a] * y[2][b]
      + y[0][a] * y[1][b] * y[2][b]
      + y[0][b] * y[1][a] * y[2][a]
      + y[0][b] * y[1][b] * y[2][a]
      + y[0][b] * y[1][a] * y[2][b];
    const logits = tf.tensor3d([rows]);
    const loss = ctcLoss(logits, [[1]], [3], { reduction: 'none' });
    assert.deepEqual(loss.shape, [1]);
    assertClose(loss.dataSync()[0], -Math.log(p), 1e-6, 'loss');
    tf.dispose([logits, loss]);
  });
});

test('ctcLoss equals the hand-enumerated alignments for T=2, three classes, label [2]', async () => {
  await noLeaks(() => {
    const rows = [[0.1, 0.5, -0.3], [0.4, -0.2, 0.9]];
    const y = rows.map(softmax);
    // Paths collapsing to "2": (2,2), (2,blank), (blank,2). (1,2) and (2,1) do not.
    const p = y[0][2] * y[1][2] + y[0][2] * y[1][0] + y[0][0] * y[1][2];
    const logits = tf.tensor3d([rows]);
    const loss = ctcLoss(logits, [[2]], [2], { reduction: 'sum' });
    assert.deepEqual(loss.shape, []);
    assertClose(loss.dataSync()[0], -Math.log(p), 1e-6, 'loss');
    tf.dispose([logits, loss]);
  });
});

test('ctcLoss needs a blank between repeated labels', async () => {
  await noLeaks(() => {
    assert.equal(ctcMinInputLength([1, 1]), 3);
    assert.equal(ctcMinInputLength([1, 2, 2, 2, 1]), 7);
    assert.equal(ctcMinInputLength([]), 0);
    // T=3, label [1, 1]: the only path is 1, blank, 1.
    const rows = [[0.3, 0.1, -0.2], [0.0, 0.6, 0.2], [-0.4, 0.5, 0.1]];
    const y = rows.map(softmax);
    const logits = tf.tensor3d([rows]);
    const loss = ctcLoss(logits, [[1, 1]], [3], { reduction: 'none' });
    assertClose(loss.dataSync()[0], -Math.log(y[0][1] * y[1][0] * y[2][1]), 1e-6, 'loss');
    // ...and [1, 2] over the same frames is the sum over 1 2 2, 1 1 2, 1 blank 2, blank 1 2, 1 2 blank.
    const loss12 = ctcLoss(logits, [[1, 2]], [3], { reduction: 'none' });
    const p12 = y[0][1] * y[1][2] * y[2][2] + y[0][1] * y[1][1] * y[2][2] + y[0][1] * y[1][0] * y[2][2]
      + y[0][0] * y[1][1] * y[2][2] + y[0][1] * y[1][2] * y[2][0];
    assertClose(loss12.dataSync()[0], -Math.log(p12), 1e-6, 'loss [1, 2]');
    tf.dispose([logits, loss, loss12]);
  });
});

test('ctcLoss and its gradient match brute-force enumeration over a batch of mixed lengths', async () => {
  await noLeaks(() => {
    const T = 5;
    const C = 3;
    let seed = 7;
    const rand = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 * 2 - 1; };
    const rows = Array.from({ length: 4 }, () => Array.from({ length: T }, () => Array.from({ length: C }, () => 1.5 * rand())));
    const labels = [[1], [1, 1], [2, 1, 2], []];
    const lengths = [5, 3, 5, 4];
    const logits = tf.tensor3d(rows);
    const perSequence = ctcLoss(logits, labels, lengths, { reduction: 'none' });
    const grad = tf.grad((x: tf.Tensor) => ctcLoss(x as tf.Tensor3D, labels, lengths, { reduction: 'sum' }))(logits);
    const losses = perSequence.dataSync();
    const g = grad.arraySync() as number[][][];
    labels.forEach((label, b) => {
      const ref = bruteForce(rows[b], lengths[b], label);
      assertClose(losses[b], ref.loss, 1e-6, `loss ${b}`);
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < C; k++) assertClose(g[b][t][k], ref.grad[t][k], 1e-5, `grad [${b}, ${t}, ${k}]`);
      }
    });
    // Frames past the input length get exactly zero gradient.
    assert.deepEqual(g[1].slice(3), [[0, 0, 0], [0, 0, 0]]);
    assert.deepEqual(g[3][4], [0, 0, 0]);
    tf.dispose([logits, perSequence, grad]);
  });
});

test('ctcLoss gradient matches central finite differences (mean reduction, float32)', async () => {
  await noLeaks(() => {
    const rows = [
      [[0.2, -0.1, 0.3, 0.0], [0.5, 0.1, -0.2, 0.1], [-0.3, 0.4, 0.2, -0.1], [0.1, 0.0, 0.3, 0.2]],
      [[-0.2, 0.3, 0.1, 0.2], [0.0, -0.4, 0.5, 0.3], [0.2, 0.2, -0.1, 0.4], [0.3, -0.2, 0.0, 0.1]],
    ];
    const labels = [[3, 1], [2, 2]];
    const lengths = [4, 4];
    const f = (x: tf.Tensor): tf.Scalar => ctcLoss(x as tf.Tensor3D, labels, lengths);
    const logits = tf.tensor3d(rows);
    const grad = tf.grad(f)(logits);
    const g = grad.arraySync() as number[][][];
    const eps = 1e-2;
    const at = (r: number[][][]): number => tf.tidy(() => f(tf.tensor3d(r)).dataSync()[0]);
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 4; t++) {
        for (let k = 0; k < 4; k++) {
          const plus = structuredClone(rows); plus[b][t][k] += eps;
          const minus = structuredClone(rows); minus[b][t][k] -= eps;
          const numeric = (at(plus) - at(minus)) / (2 * eps);
          assert.ok(Math.abs(g[b][t][k] - numeric) <= 1e-2 * Math.abs(numeric) + 1e-4, `grad [${b}, ${t}, ${k}]: ${g[b][t][k]} vs numeric ${numeric}`);
        }
      }
    }
    tf.dispose([logits, grad]);
  });
});

test('ctcLoss reductions: mean divides by label length, sum adds, empty labels count as length 1', async () => {
  await noLeaks(() => {
    const rows = [
      [[0.1, 0.2, 0.3], [0.3, 0.1, 0.0], [0.2, 0.4, 0.1]],
      [[0.0, 0.5, 0.1], [0.2, 0.2, 0.2], [0.6, 0.1, 0.3]],
      [[0.4, 0.0, 0.1], [0.1, 0.3, 0.5], [0.2, 0.1, 0.0]],
    ];
    const labels = [[1, 2], [2], []];
    const lengths = [3, 3, 2];
    const logits = tf.tensor3d(rows);
    const none = ctcLoss(logits, labels, lengths, { reduction: 'none' });
    const sum = ctcLoss(logits, labels, lengths, { reduction: 'sum' });
    const mean = ctcLoss(logits, labels, lengths);
    const l = Array.from(none.dataSync());
    assertClose(sum.dataSync()[0], l[0] + l[1] + l[2], 1e-6, 'sum');
    assertClose(mean.dataSync()[0], (l[0] / 2 + l[1] / 1 + l[2] / 1) / 3, 1e-6, 'mean');
    // Empty label: every frame must be blank.
    const y = rows[2].map(softmax);
    assertClose(l[2], -Math.log(y[0][0] * y[1][0]), 1e-6, 'empty label');
    tf.dispose([logits, none, sum, mean]);
  });
});

test('ctcLoss ignores frames past the input length, whatever they hold', async () => {
  await noLeaks(() => {
    const short = [[0.1, 0.7, -0.2], [0.3, -0.1, 0.4]];
    const padded = [...short, [NaN, Infinity, -Infinity], [1e30, 0, 0]];
    const a = tf.tensor3d([short]);
    const b = tf.tensor3d([padded]);
    const la = ctcLoss(a, [[2]], [2], { reduction: 'none' });
    const lb = ctcLoss(b, [[2]], [2], { reduction: 'none' });
    assert.equal(lb.dataSync()[0], la.dataSync()[0]);
    const g = tf.grad((x: tf.Tensor) => ctcLoss(x as tf.Tensor3D, [[2]], [2]))(b);
    const rows = (g.arraySync() as number[][][])[0];
    assert.deepEqual(rows.slice(2), [[0, 0, 0], [0, 0, 0]]);
    assert.ok(rows.slice(0, 2).flat().every(Number.isFinite));
    tf.dispose([a, b, la, lb, g]);
  });
});

test('ctcLoss with a non-zero blank id equals the same problem with classes permuted', async () => {
  await noLeaks(() => {
    const rows = [[0.2, 0.5, -0.1], [0.0, 0.3, 0.6], [0.4, -0.3, 0.2]];
    // Move the blank from column 0 to column 2: new = [c1, c2, c0].
    const moved = rows.map((r) => [r[1], r[2], r[0]]);
    const x0 = tf.tensor3d([rows]);
    const x2 = tf.tensor3d([moved]);
    const l0 = ctcLoss(x0, [[1, 2]], [3], { reduction: 'none' });
    const l2 = ctcLoss(x2, [[0, 1]], [3], { reduction: 'none', blank: 2 });
    assertClose(l2.dataSync()[0], l0.dataSync()[0], 1e-6, 'loss');
    tf.dispose([x0, x2, l0, l2]);
  });
});

test('ctcLoss rejects a label that cannot fit its input length, with the values', async () => {
  await noLeaks(() => {
    const logits = tf.zeros([2, 4, 3]) as tf.Tensor3D;
    assert.throws(
      () => ctcLoss(logits, [[1], [1, 1, 2]], [4, 3]),
      (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_CTC_LABEL_TOO_LONG'
        && e.details.batchIndex === 1 && e.details.required === 4 && e.details.inputLength === 3 && e.details.repeats === 1
        && /needs at least 4 frames, but its input length is 3/.test(e.message),
    );
    assert.throws(() => ctcLoss(logits, [[1, 2, 1, 2, 1], [1]], [4, 4]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_CTC_LABEL_TOO_LONG' && e.details.batchIndex === 0);
    // A label fitting its frames exactly is fine: 1 blank 1 2 over 4 frames.
    const ok = ctcLoss(logits, [[1], [1, 1, 2]], [4, 4], { reduction: 'none' });
    assert.ok(Array.from(ok.dataSync()).every(Number.isFinite));
    ok.dispose();
    logits.dispose();
  });
});

test('ctcLoss rejects malformed inputs with stable codes and leaks nothing when it throws', async () => {
  await noLeaks(() => {
    const logits = tf.zeros([1, 3, 3]) as tf.Tensor3D;
    const code = (c: string) => (e: unknown) => e instanceof BonsaiError && e.code === c;
    assert.throws(() => ctcLoss(logits, [[0]], [3]), code('BONSAI_CORE_CTC_LABEL'));
    assert.throws(() => ctcLoss(logits, [[3]], [3]), code('BONSAI_CORE_CTC_LABEL'));
    assert.throws(() => ctcLoss(logits, [[1.5]], [3]), code('BONSAI_CORE_CTC_LABEL'));
    assert.throws(() => ctcLoss(logits, [[1]], [4]), code('BONSAI_CORE_CTC_INPUT_LENGTH'));
    assert.throws(() => ctcLoss(logits, [[1]], [-1]), code('BONSAI_CORE_CTC_INPUT_LENGTH'));
    assert.throws(() => ctcLoss(logits, [[1], [1]], [3]), code('BONSAI_CORE_CTC_SHAPE'));
    assert.throws(() => ctcLoss(logits, [[1]], [3], { blank: 3 }), code('BONSAI_CORE_CTC_BLANK'));
    const flat = tf.zeros([3, 3]);
    assert.throws(() => ctcLoss(flat as unknown as tf.Tensor3D, [[1]], [3]), code('BONSAI_CORE_CTC_SHAPE'));
    tf.dispose([logits, flat]);
    const nan = tf.tensor3d([[[0, 0, 0], [0, NaN, 0], [0, 0, 0]]]);
    assert.throws(() => ctcLoss(nan, [[1]], [3]), (e: unknown) => e instanceof BonsaiError && e.code === 'BONSAI_CORE_CTC_NON_FINITE' && /\[0, 1, 1\]/.test(e.message));
    nan.dispose();
    // Label 2 is impossible when class 2 has logit -Infinity everywhere: never an infinite loss.
    const forbidden = tf.tensor3d([[[0, 0, -Infinity], [0, 0, -Infinity]]]);
    assert.throws(() => ctcLoss(forbidden, [[2]], [2]), code('BONSAI_CORE_CTC_ZERO_PROBABILITY'));
    const allowed = ctcLoss(forbidden, [[1]], [2], { reduction: 'none' });
    assertClose(allowed.dataSync()[0], -Math.log(3 / 4), 1e-6, 'loss with a forbidden class');
    tf.dispose([forbidden, allowed]);
  });
});

test('ctcLoss gradient is leak-free under tf.grad and a zero-length empty-label item costs nothing', async () => {
  await noLeaks(() => {
    const logits = tf.randomNormal([3, 6, 5], 0, 1, 'float32', 3) as tf.Tensor3D;
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const g = tf.grad((x: tf.Tensor) => ctcLoss(x as tf.Tensor3D, [[1, 2], [], [4]], [6, 0, 2], { reduction }))(logits);
      const arr = g.arraySync() as number[][][];
      assert.ok(arr[1].flat().every((v) => v === 0), `${reduction}: zero-length item has zero gradient`);
      g.dispose();
    }
    const none = ctcLoss(logits, [[1, 2], [], [4]], [6, 0, 2], { reduction: 'none' });
    assert.equal(none.dataSync()[1], 0);
    tf.dispose([logits, none]);
  });
});
