import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../core/tf.ts';
import { DS2_TIME_STRIDE, DeepSpeech2, ds2OutputLength, registerDs2 } from '../../core/models/ds2.ts';
import { createModel } from '../../core/models/index.ts';
import { cloneModel } from '../../core/serialize/clone.ts';
import { setSequenceLengths } from '../../core/sparse/sequence-lengths.ts';
import { noLeaks } from '../helpers/tensors.ts';

registerDs2();

const tiny = { filters: '2,3,2', hidden: 3, gateHidden: 4, kernelTime: 3, kernelFreq: 3, dropout: 0 };
const spec = { arch: 'ds2', inputShape: [10, 7], numClasses: 6, seed: 3, options: tiny };

function frames(T: number, F: number, seed: number): tf.Tensor3D {
  return tf.randomNormal([1, T, F], 0, 1, 'float32', seed) as tf.Tensor3D;
}

test('ds2 maps [B, T, features] to [B, ceil(T / 2), classes] logits, odd T included', async () => {
  await noLeaks(() => {
    const model = createModel(spec) as DeepSpeech2;
    assert.ok(model instanceof DeepSpeech2);
    assert.equal(DS2_TIME_STRIDE, 2);
    for (const T of [9, 10, 1]) {
      const x = tf.randomNormal([2, T, 7], 0, 1, 'float32', T);
      const y = model.forward(x, { training: true });
      assert.deepEqual(y.shape, [2, ds2OutputLength(T), 6]);
      assert.equal(ds2OutputLength(T), Math.ceil(T / 2));
      tf.dispose([x, y]);
    }
    model.dispose();
  });
});

test('ds2 has 3 convolutions, 3 bidirectional H-LSTM layers and one FC, every weight tensor masked', async () => {
  await noLeaks(() => {
    const model = new DeepSpeech2({ ...spec, options: { ...tiny } });
    assert.equal(model.convs.length, 3);
    assert.equal(model.rnns.length, 3);
    assert.equal(model.head, model.fc);
    const kernels = model.kernels.map((k) => k.name);
    assert.equal(kernels.length, 3 + 3 * 2 * 8 + 1);
    assert.ok(kernels.includes('rnn2b/g2/kernel') && kernels.includes('conv3/kernel') && kernels.includes('fc/kernel'));
    // Frequency 7 -> 4 -> 2 -> 1 with 2 filters: the first H-LSTM reads 2 values a frame.
    assert.equal(model.rnns[0][0].inputSize, 2);
    assert.equal(model.rnns[1][0].inputSize, 6);
    assert.deepEqual(model.fc.kernel.shape, [6, 6]);
    // The first convolution reads features, not neurons; everything after reads neurons.
    assert.equal(model.convs[0].kernel.sendersAreNeurons, false);
    assert.ok(model.kernels.slice(1).every((k) => k.sendersAreNeurons));
    // MACs per sample at the nominal 10 frames: conv1 runs on 5 x 4 output positions.
    const macs = model.kernelMacs();
    assert.equal(macs['conv1/kernel'], 5 * 4 * 3 * 3 * 1 * 2);
    assert.equal(macs['rnn1f/f1/kernel'], 5 * (2 + 3) * 4);
    assert.equal(macs['fc/kernel'], 5 * 6 * 6);
    assert.equal(Object.keys(macs).length, kernels.length);
    model.dispose();
  });
});

test('an utterance gets the same logits alone and zero-padded into a longer batch', async () => {
  await noLeaks(() => {
    const model = createModel(spec);
    const short = frames(7, 7, 1);
    const long = frames(12, 7, 2);
    const alone = model.forward(short, { training: false });
    const batch = tf.tidy(() => tf.concat([short.pad([[0, 0], [0, 5], [0, 0]]), long]));
    // Lengths given explicitly, and inferred from the trailing zero frames.
    const inferred = model.forward(batch, { training: false });
    setSequenceLengths(batch, [7, 12]);
    const given = model.forward(batch, { training: false });
    for (const y of [given, inferred]) {
      const got = tf.tidy(() => y.slice([0, 0, 0], [1, 4, 6]).dataSync());
      const want = alone.dataSync();
      want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `logit ${i}: ${got[i]} vs ${v}`));
    }
    const longAlone = model.forward(long, { training: false });
    const second = tf.tidy(() => given.slice([1, 0, 0], [1, 6, 6]).dataSync());
    longAlone.dataSync().forEach((v, i) => assert.ok(Math.abs(second[i] - v) < 1e-5));
    tf.dispose([short, long, alone, batch, inferred, given, longAlone]);
    model.dispose();
  });
});

test('the recurrent layers are bidirectional: the last frame changes the first output frame', async () => {
  await noLeaks(() => {
    const model = createModel(spec);
    const x = frames(12, 7, 5);
    const changed = tf.tidy(() => x.add(tf.oneHot([11], 12).reshape([1, 12, 1]).mul(3)));
    const a = tf.tidy(() => model.forward(x, { training: false }).slice([0, 0, 0], [1, 1, 6]).dataSync());
    const b = tf.tidy(() => model.forward(changed, { training: false }).slice([0, 0, 0], [1, 1, 6]).dataSync());
    assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-6));
    tf.dispose([x, changed]);
    model.dispose();
  });
});

test('a clone of a ds2 model (via the registry) gives the same logits', async () => {
  await noLeaks(() => {
    const model = createModel(spec);
    model.kernels[5].setMask(tf.tidy(() => tf.randomUniform(model.kernels[5].shape, 0, 1, 'float32', 1).less(0.5).toFloat()));
    const copy = cloneModel(model);
    const x = frames(9, 7, 9);
    const a = tf.tidy(() => model.forward(x, { training: false }).dataSync());
    const b = tf.tidy(() => copy.forward(x, { training: false }).dataSync());
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.equal(copy.liveParams(), model.liveParams());
    x.dispose();
    model.dispose();
    copy.dispose();
  });
});

test('ds2 rejects bad options and inconsistent sequence lengths with BONSAI_CORE_DS2_* codes', async () => {
  await noLeaks(() => {
    assert.throws(() => createModel({ ...spec, options: { filters: '2,3' } }), { code: 'BONSAI_CORE_DS2_OPTION' });
    assert.throws(() => createModel({ ...spec, options: { hidden: 0 } }), { code: 'BONSAI_CORE_DS2_OPTION' });
    assert.throws(() => createModel({ ...spec, options: { dropout: 1 } }), { code: 'BONSAI_CORE_DS2_OPTION' });
    assert.throws(() => createModel({ ...spec, inputShape: [10, 7, 1] }), { code: 'BONSAI_CORE_DS2_OPTION' });
    const model = createModel(spec);
    const x = tf.zeros([2, 6, 7]);
    setSequenceLengths(x, [6, 8]);
    assert.throws(() => model.forward(x, { training: false }), { code: 'BONSAI_CORE_DS2_LENGTHS' });
    x.dispose();
    model.dispose();
  });
});
