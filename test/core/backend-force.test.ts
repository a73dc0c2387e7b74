import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { BonsaiError } from '../../core/errors.ts';
import { initBackend, backendInfo, resolveBackendName, idleThreads } from '../../core/backend.ts';

// Forcing a backend by option or BONSAI_BACKEND, and the errors. The tests run
// in order in one process: the failed calls leave nothing started.

function isCode(code: string, check: (e: BonsaiError) => boolean = () => true) {
  return (e: unknown) => e instanceof BonsaiError && e.code === code && check(e);
}

function installed(pkg: string): boolean {
  try {
    import.meta.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

test('backend names: gpu|node|wasm|cpu, the tfjs names, any case; anything else is BONSAI_CORE_BACKEND_UNKNOWN', () => {
  assert.equal(resolveBackendName('gpu'), 'tensorflow-gpu');
  assert.equal(resolveBackendName('tensorflow-gpu'), 'tensorflow-gpu');
  assert.equal(resolveBackendName('node'), 'tensorflow');
  assert.equal(resolveBackendName(' Tensorflow '), 'tensorflow');
  assert.equal(resolveBackendName('WASM'), 'wasm');
  assert.equal(resolveBackendName('cpu'), 'cpu');
  assert.throws(() => resolveBackendName('webgl'), isCode('BONSAI_CORE_BACKEND_UNKNOWN', (e) => e.details.value === 'webgl'));
});

test('an unknown BONSAI_BACKEND is rejected before anything starts', async () => {
  process.env.BONSAI_BACKEND = 'cuda';
  try {
    await assert.rejects(initBackend(), isCode('BONSAI_CORE_BACKEND_UNKNOWN', (e) => /cuda/.test(e.message)));
  } finally {
    delete process.env.BONSAI_BACKEND;
  }
  assert.equal(backendInfo(), null);
});

test('a forced backend that cannot load throws BONSAI_CORE_BACKEND_UNAVAILABLE with the reason', { skip: installed('@tensorflow/tfjs-node') && 'tfjs-node is installed' }, async () => {
  process.env.BONSAI_BACKEND = 'node';
  try {
    await assert.rejects(initBackend(), isCode('BONSAI_CORE_BACKEND_UNAVAILABLE', (e) =>
      e.details.package === '@tensorflow/tfjs-node' && e.details.reason === '@tensorflow/tfjs-node is not installed'
      && e.details.forcedBy === 'BONSAI_BACKEND=node' && e.cause instanceof Error));
  } finally {
    delete process.env.BONSAI_BACKEND;
  }
  await assert.rejects(initBackend({ force: 'gpu' }), isCode('BONSAI_CORE_BACKEND_UNAVAILABLE', (e) =>
    /@tensorflow\/tfjs-node-gpu is not installed/.test(e.message)));
  assert.equal(backendInfo(), null);
});

test('the default wasm thread count is the idle cores: 1 to 8', () => {
  assert.equal(idleThreads(2, 7.9), 1);
  assert.equal(idleThreads(2, 0.3), 2);
  assert.equal(idleThreads(4, 1.4), 3);
  assert.equal(idleThreads(16, 0.2), 8);
  assert.equal(idleThreads(1, 0), 1);
});

test('threads must be a positive integer', async () => {
  await assert.rejects(initBackend({ force: 'cpu', threads: 0 }), isCode('BONSAI_CORE_BACKEND_THREADS', (e) => e.details.value === 0));
  process.env.BONSAI_THREADS = 'many';
  try {
    await assert.rejects(initBackend({ force: 'cpu' }), isCode('BONSAI_CORE_BACKEND_THREADS', (e) => e.details.source === 'BONSAI_THREADS'));
  } finally {
    delete process.env.BONSAI_THREADS;
  }
  assert.equal(backendInfo(), null);
});

test('options.force wins over BONSAI_BACKEND; the reason names it', async () => {
  process.env.BONSAI_BACKEND = 'node';
  const lines: string[] = [];
  try {
    const info = await initBackend({ force: 'cpu', log: (m) => lines.push(m) });
    assert.equal(info.name, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.equal(info.threads, 1);
    assert.equal(info.reason, "forced by options.force='cpu'");
    assert.equal(info.versions['tfjs-backend-cpu'], '4.22.0');
    assert.equal(info.simd, undefined);
    assert.deepEqual(lines, ["backend: cpu (@tensorflow/tfjs-backend-cpu 4.22.0, 1 thread): forced by options.force='cpu'"]);
  } finally {
    delete process.env.BONSAI_BACKEND;
  }
  await assert.rejects(initBackend({ force: 'wasm' }), isCode('BONSAI_CORE_BACKEND_CONFLICT'));
  assert.equal((await initBackend()).name, 'cpu');
});
