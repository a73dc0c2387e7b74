import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { initBackend } from '../../core/backend.ts';
import { noLeaks } from '../helpers/tensors.ts';

test('wasm BatchMatMul with transpose flags matches the cpu backend', async (t) => {
  const info = await initBackend();
  if (info.name !== 'wasm') {
    t.skip(`backend is ${info.name}, not wasm`);
    return;
  }
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[7, 5], [7, 3], true, false],
    [[4, 6], [3, 6], false, true],
    [[6, 4], [3, 6], true, true],
    [[2, 5, 3], [2, 5, 4], true, false],
    [[3, 4], [4, 2], false, false],
  ];
  for (const [sa, sb, ta, tb] of cases) {
    const a = Float32Array.from({ length: sa.reduce((x, y) => x * y) }, (_, i) => Math.sin(i + 1));
    const b = Float32Array.from({ length: sb.reduce((x, y) => x * y) }, (_, i) => Math.cos(i * 0.7));
    const run = () => tf.tidy(() => {
      const at: tf.Tensor = tf.tensor(a, sa);
      const bt: tf.Tensor = tf.tensor(b, sb);
      return tf.matMul(at as tf.Tensor2D, bt as tf.Tensor2D, ta, tb).dataSync();
    });
    const wasm = await noLeaks(run);
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    assert.equal(wasm.length, cpu.length);
    for (let i = 0; i < cpu.length; i++) assert.ok(Math.abs(wasm[i] - cpu[i]) <= 1e-4 * (1 + Math.abs(cpu[i])), `case ${sa}x${sb} ${ta}/${tb} entry ${i}: ${wasm[i]} vs ${cpu[i]}`);
  }
});
