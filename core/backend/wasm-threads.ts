/**
 * Multi-threaded wasm in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (`tfjs-backend-wasm-threaded-simd`,
 * XNNPACK on a pthreadpool of Web Workers) but never uses it in Node, for three reasons:
 *
 * 1. its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false whenever `IS_NODE`
 *    (tensorflow/tfjs#3830);
 * 2. forcing the flag fails: the pthread worker script is handed to `new Worker()`
 *    as a `blob:` URL, which Node's worker_threads rejects (ERR_WORKER_PATH);
 * 3. even when the workers start, `init_with_threads_count` caps the pool at
 *    `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads a core), and
 *    in Node that is `os.cpus().length / 2`, so a 2-core machine gets 1 thread.
 *
 * This module loads the threaded build itself: the worker is a real file
 * (`wasm-pthread-worker.cjs`, which evaluates tfjs's own worker script), the main
 * script is passed by path, and while the module starts `os.cpus()` reports at
 * least two entries per requested thread. The result is registered as the `wasm`
 * backend, so every wasm kernel (and ours) runs on it unchanged. The binary
 * pre-starts 8 workers, so at most 8 threads.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import type { CpuInfo } from 'node:os';
import { createRequire } from 'node:module';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Workers the threaded binary starts up front (emscripten PTHREAD_POOL_SIZE); more would deadlock. */
export const MAX_WASM_THREADS = 8;

/** The parts of the emscripten module this file touches. */
interface EmscriptenThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => unknown;
  PThread: {
    unusedWorkers: { unref(): void }[];
    runningWorkers: { unref(): void }[];
    terminateAllThreads(): void;
  };
  tfjs?: Record<string, unknown>;
}

/** Settings of the emscripten factory (the object becomes the module). */
interface FactoryConfig {
  locateFile(path: string, prefix: string): string;
  mainScriptUrlOrBlob: string;
  onAbort(what: unknown): void;
  PThread?: EmscriptenThreadedModule['PThread'];
}

/** Runs `fn` while `os.cpus()` lists at least `count` entries (copies of the real first one). */
async function withCpuCount<T>(count: number, fn: () => Promise<T>): Promise<T> {
  const os = require('node:os') as { cpus: () => CpuInfo[] };
  const real = os.cpus;
  const actual = real();
  if (actual.length >= count || actual.length === 0) return fn();
  os.cpus = () => [...actual, ...Array.from({ length: count - actual.length }, () => ({ ...actual[0] }))];
  try {
    return await fn();
  } finally {
    os.cpus = real;
  }
}

/**
 * Runs `fn` while `worker_threads.Worker` starts workers with no Node options:
 * emscripten's `new Worker(path)` would otherwise hand each pthread worker the
 * parent's `execArgv` (a TypeScript loader, `--inspect`), which the plain
 * CommonJS worker script does not need and which slows the start of all 8.
 */
function withBareWorkers<T>(fn: () => T): T {
  const threads = require('node:worker_threads') as { Worker: typeof Worker };
  const Original = threads.Worker;
  threads.Worker = class extends Original {
    constructor(filename: string | URL, options: WorkerOptions = {}) {
      super(filename, { ...options, execArgv: [] });
    }
  };
  try {
    return fn();
  } finally {
    threads.Worker = Original;
  }
}

/** Instantiates the threaded SIMD module with its pthread workers started. */
async function instantiate(threads: number, timeoutMs: number): Promise<EmscriptenThreadedModule> {
  const jsPath = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const wasmPath = jsPath.replace(/\.js$/, '.wasm');
  const workerPath = fileURLToPath(new URL('./wasm-pthread-worker.cjs', import.meta.url));
  const factory = require(jsPath) as (config: FactoryConfig) => Promise<EmscriptenThreadedModule>;
  return withCpuCount(2 * threads, async () => {
    let abort: (what: unknown) => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      abort = (what) => reject(new Error(`threaded wasm aborted: ${String(what)}`));
    });
    const config: FactoryConfig = {
      locateFile: (path, prefix) => (path.endsWith('.worker.js') ? workerPath : path.endsWith('.wasm') ? wasmPath : prefix + path),
      mainScriptUrlOrBlob: jsPath,
      onAbort: (what) => abort(what),
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`threaded wasm did not start within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // The factory starts the pool's workers synchronously, before its first await.
      return await Promise.race([withBareWorkers(() => factory(config)), aborted, timeout]);
    } catch (err) {
      config.PThread?.terminateAllThreads();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  });
}

/** Adds the cwrap'd bridge functions that `BackendWasm` expects (as tfjs-backend-wasm's own `init`). */
function addBridge(module: EmscriptenThreadedModule): void {
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
}

/**
 * Loads the threaded SIMD wasm build and registers it as the `wasm` backend with
 * `threads` XNNPACK threads (1..8). Resolves once the module and its workers are
 * up; `tf.setBackend('wasm')` then creates the thread pool. Returns a function that
 * puts the stock (single-threaded) `wasm` factory back.
 */
export async function registerThreadedWasm(threads: number, timeoutMs = 30_000): Promise<() => void> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`threads must be an integer in 1..${MAX_WASM_THREADS}, got ${threads}`);
  }
  const module = await instantiate(threads, timeoutMs);
  addBridge(module);
  const stock = tf.findBackendFactory('wasm');
  if (stock !== undefined && stock !== null) tf.removeBackend('wasm');
  setThreadsCount(threads);
  tf.registerBackend('wasm', () => {
    const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
    // Idle pool workers must not keep the process alive.
    for (const w of [...module.PThread.unusedWorkers, ...module.PThread.runningWorkers]) w.unref();
    return backend;
  }, 2);
  return () => {
    tf.removeBackend('wasm');
    module.PThread.terminateAllThreads();
    if (stock !== undefined && stock !== null) tf.registerBackend('wasm', stock, 2);
  };
}
