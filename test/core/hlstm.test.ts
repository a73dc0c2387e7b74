import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { HLSTM_GATES, HLstmCell, defaultHLstmKernel, runHLstm, type HLstmKernel } from '../../core/sparse/hlstm.ts';
import { MaskedOptimizer } from '../../core/train/optimizer.ts';
import { noLeaks } from '../helpers/tensors.ts';

const sigmoid = (u: number) => 1 / (1 + Math.exp(-u));
const leaky = (u: number) => (u > 0 ? u : 0.01 * u);

/**
 * The cell's equations (paper section 3.2) in plain float64 loops: the reference
 * the tensor implementation must match.
 */
function reference(cell: HLstmCell, x: Float32Array, B: number, T: number): Float64Array {
  const In = cell.inputSize;
  const H = cell.units;
  const G = cell.gateHidden;
  const w = Object.fromEntries(HLSTM_GATES.map((g) => {
    const p = cell.gates[g];
    const eff = (t: tf.Tensor) => tf.tidy(() => t.dataSync().slice());
    return [g, {
      w1: tf.tidy(() => eff(p.hiddenKernel.effective())), b1: eff(p.hiddenBias.value),
      w2: tf.tidy(() => eff(p.outKernel.effective())), b2: eff(p.outBias.value),
    }];
  }));
  const out = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    let c = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const input = [...x.slice((b * T + t) * In, (b * T + t + 1) * In), ...h];
      const gate: Record<string, Float64Array> = {};
      for (const g of HLSTM_GATES) {
        const { w1, b1, w2, b2 } = w[g];
        const z = new Float64Array(G);
        for (let j = 0; j < G; j++) {
          let s = b1[j];
          for (let r = 0; r < In + H; r++) s += input[r] * w1[r * G + j];
          z[j] = leaky(s);
        }
        gate[g] = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          let s = b2[k];
          for (let j = 0; j < G; j++) s += z[j] * w2[j * H + k];
          gate[g][k] = g === 'g' ? Math.tanh(s) : sigmoid(s);
        }
      }
      const c2 = new Float64Array(H);
      const h2 = new Float64Array(H);
      for (let k = 0; k < H; k++) {
        c2[k] = gate.f[k] * c[k] + gate.i[k] * gate.g[k];
        h2[k] = gate.o[k] * Math.tanh(c2[k]);
        out[(b * T + t) * H + k] = h2[k];
      }
      h = h2;
      c = c2;
    }
  }
  return out;
}

function randomInput(B: number, T: number, In: number, seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal([B, T, In], 0, 1, 'float32', seed).dataSync() as Float32Array);
}

test('an H-LSTM cell has four gate MLPs of masked tensors and maps [B, T, in] to [B, T, units]', async () => {
  await noLeaks(() => {
    const cell = new HLstmCell({ name: 'rnn', inputSize: 5, units: 3, gateHidden: 4, seed: 1 });
    assert.equal(cell.params.length, 16);
    assert.deepEqual(cell.gates.f.hiddenKernel.shape, [8, 4]);
    assert.deepEqual(cell.gates.g.outKernel.shape, [4, 3]);
    assert.deepEqual(cell.params.filter((p) => p.sparse).map((p) => p.name), ['rnn/f1/kernel', 'rnn/f2/kernel', 'rnn/i1/kernel', 'rnn/i2/kernel', 'rnn/o1/kernel', 'rnn/o2/kernel', 'rnn/g1/kernel', 'rnn/g2/kernel']);
    // Recoverable pruning reads units off these axes: senders on 0, receivers on 1.
    for (const p of cell.params.filter((q) => q.sparse)) assert.deepEqual([p.inAxis, p.outAxis], [0, 1]);
    const x = tf.tensor3d(randomInput(2, 6, 5, 3), [2, 6, 5]);
    const y = cell.apply(x, { training: false });
    assert.deepEqual(y.shape, [2, 6, 3]);
    assert.deepEqual(cell.outputShape([6, 5]), [6, 3]);
    assert.equal(cell.macs([6, 5])['rnn/i1/kernel'], 6 * 8 * 4);
    assert.equal(cell.macs([6, 5])['rnn/o2/kernel'], 6 * 4 * 3);
    tf.dispose([x, y]);
    cell.dispose();
  });
});

test('the cell matches a float64 reference of the H-LSTM equations, and two cells stepped together match each alone', async () => {
  await noLeaks(() => {
    const [B, T, In] = [3, 5, 4];
    const cells = [1, 2].map((s) => new HLstmCell({ name: `c${s}`, inputSize: In, units: 3, gateHidden: 5, seed: s }));
    const xs = [randomInput(B, T, In, 7), randomInput(B, T, In, 8)];
    const inputs = xs.map((v) => tf.tensor3d(v, [B, T, In]));
    const joint = runHLstm(cells, inputs, { training: false }, 'host');
    const graph = runHLstm(cells, inputs, { training: false }, 'graph');
    cells.forEach((cell, d) => {
      const expected = reference(cell, xs[d], B, T);
      const alone = cell.apply(inputs[d], { training: false });
      for (const got of [joint[d], graph[d], alone]) {
        const values = got.dataSync();
        expected.forEach((e, i) => assert.ok(Math.abs(values[i] - e) < 1e-5, `cell ${d} value ${i}: ${values[i]} vs reference ${e}`));
      }
      alone.dispose();
    });
    tf.dispose([...inputs, ...joint, ...graph]);
    cells.forEach((c) => c.dispose());
  });
});

test('a masked connection contributes nothing, still gets a growth gradient, and stays zero after an optimizer step', async () => {
  await noLeaks(() => {
    const cell = new HLstmCell({ name: 'rnn', inputSize: 3, units: 2, gateHidden: 3, dropout: 0, seed: 4 });
    const x = tf.tensor3d(randomInput(2, 4, 3, 5), [2, 4, 3]);
    const target = cell.gates.o.hiddenKernel;
    // Mask out row 1 (an input feature) of the output gate's hidden layer.
    const maskValues = new Float32Array(target.size).fill(1);
    for (let j = 0; j < 3; j++) maskValues[1 * 3 + j] = 0;
    target.setMask(tf.tensor(maskValues, target.shape));
    const before = tf.tidy(() => cell.apply(x, { training: false }).dataSync());
    // Whatever the stored value of a masked weight, the output is the same.
    tf.tidy(() => target.value.assign(target.value.add(tf.tensor(maskValues.map((m) => (m === 0 ? 5 : 0)), target.shape))));
    const after = tf.tidy(() => cell.apply(x, { training: false }).dataSync());
    assert.deepEqual(Array.from(after), Array.from(before));

    // The gradient w.r.t. the effective weights reaches the dormant entries (what growth reads)...
    const effective = cell.params.map((p) => p.effective());
    const grads = tf.grads((...ws: tf.Tensor[]) => {
      const weights = new Map(cell.params.map((p, i) => [p.name, ws[i]]));
      return cell.apply(x, { training: false, weights }).sum() as tf.Scalar;
    })(effective);
    const g = grads[cell.params.indexOf(target)].dataSync();
    assert.ok([0, 1, 2].some((j) => Math.abs(g[3 + j]) > 1e-6), 'no growth signal on the dormant row');
    // ...and an optimizer step leaves them at zero.
    const opt = new MaskedOptimizer({ kind: 'adam', learningRate: 0.1 });
    opt.step(cell.params, grads);
    const v = target.value.dataSync();
    for (let j = 0; j < 3; j++) assert.equal(v[3 + j], 0);
    assert.ok(Math.abs(v[0]) > 0);
    opt.dispose();
    tf.dispose([...effective, ...grads, x]);
    cell.dispose();
  });
});

for (const kernel of ['host', 'graph'] as HLstmKernel[]) test(`${kernel} kernel: gradients of every tensor of a tiny cell agree with central finite differences`, async () => {
  await noLeaks(() => {
    const cell = new HLstmCell({ name: 'rnn', inputSize: 2, units: 2, gateHidden: 3, dropout: 0, seed: 11 });
    const x = tf.tensor3d(randomInput(2, 3, 2, 12), [2, 3, 2]);
    const probe = tf.randomNormal([2, 3, 2], 0, 1, 'float32', 13);
    const loss = (ws: tf.Tensor[]) => tf.tidy(() => {
      const weights = new Map(cell.params.map((p, i) => [p.name, ws[i]]));
      return runHLstm([cell], [x], { training: false, weights }, kernel)[0].mul(probe).sum() as tf.Scalar;
    });
    const base = cell.params.map((p) => tf.tidy(() => p.effective()));
    const analytic = tf.grads((...ws: tf.Tensor[]) => loss(ws))(base);
    const eps = 1e-2;
    let checked = 0;
    cell.params.forEach((p, i) => {
      const values = base[i].dataSync();
      const g = analytic[i].dataSync();
      for (let k = 0; k < values.length; k += 2) {
        const at = (delta: number) => {
          const shifted = Float32Array.from(values);
          shifted[k] += delta;
          const ws = base.map((b, j) => (j === i ? tf.tensor(shifted, b.shape) : b));
          const l = loss(ws);
          const v = l.dataSync()[0];
          l.dispose();
          ws[i].dispose();
          return v;
        };
        const numeric = (at(eps) - at(-eps)) / (2 * eps);
        assert.ok(Math.abs(numeric - g[k]) <= 2e-3 + 2e-2 * Math.abs(numeric), `${p.name}[${k}]: analytic ${g[k]} vs numeric ${numeric}`);
        checked++;
      }
    });
    assert.ok(checked > 30);
    tf.dispose([...base, ...analytic, x, probe]);
    cell.dispose();
  });
});

test('dropout on the gate hidden layers acts in training only, with one mask per sequence draw', async () => {
  await noLeaks(() => {
    const cell = new HLstmCell({ name: 'rnn', inputSize: 3, units: 4, gateHidden: 8, dropout: 0.5, seed: 2 });
    const x = tf.tensor3d(randomInput(2, 4, 3, 1), [2, 4, 3]);
    const infer1 = tf.tidy(() => Array.from(cell.apply(x, { training: false }).dataSync()));
    const infer2 = tf.tidy(() => Array.from(cell.apply(x, { training: false }).dataSync()));
    const train1 = tf.tidy(() => Array.from(cell.apply(x, { training: true }).dataSync()));
    const train2 = tf.tidy(() => Array.from(cell.apply(x, { training: true }).dataSync()));
    assert.deepEqual(infer1, infer2);
    assert.notDeepEqual(train1, infer1);
    assert.notDeepEqual(train1, train2, 'each pass draws new masks');
    const plain = new HLstmCell({ name: 'rnn', inputSize: 3, units: 4, gateHidden: 8, dropout: 0, seed: 2 });
    const a = tf.tidy(() => Array.from(plain.apply(x, { training: true }).dataSync()));
    assert.deepEqual(a, infer1, 'without dropout, training and inference agree');
    x.dispose();
    cell.dispose();
    plain.dispose();
  });
});

test('the host and graph kernels give the same gradients for the weights and the input, dropout included', async () => {
  await noLeaks(() => {
    assert.equal(defaultHLstmKernel(), 'host', 'tests run on the cpu backend');
    const cell = new HLstmCell({ name: 'rnn', inputSize: 4, units: 5, gateHidden: 6, dropout: 0.3, seed: 21 });
    const x = tf.tensor3d(randomInput(3, 7, 4, 22), [3, 7, 4]);
    const probe = tf.randomNormal([3, 7, 5], 0, 1, 'float32', 23);
    const gradsOf = (kernel: HLstmKernel, seed: number) => {
      // Same dropout masks for both kernels: reset the cell's dropout seed.
      (cell as unknown as { dropoutSeed: number }).dropoutSeed = seed;
      const effective = cell.params.map((p) => p.effective());
      const grads = tf.grads((input: tf.Tensor, ...ws: tf.Tensor[]) => {
        const weights = new Map(cell.params.map((p, i) => [p.name, ws[i]]));
        return runHLstm([cell], [input], { training: true, weights }, kernel)[0].mul(probe).sum() as tf.Scalar;
      })([x, ...effective]);
      const values = grads.map((g) => Array.from(g.dataSync()));
      tf.dispose([...effective, ...grads]);
      return values;
    };
    const host = gradsOf('host', 5);
    const graph = gradsOf('graph', 5);
    host.forEach((h, i) => h.forEach((v, k) => assert.ok(Math.abs(v - graph[i][k]) < 1e-4 * (1 + Math.abs(v)), `tensor ${i} entry ${k}: host ${v} vs graph ${graph[i][k]}`)));
    assert.ok(host[0].some((v) => v !== 0));
    tf.dispose([x, probe]);
    cell.dispose();
  });
});
