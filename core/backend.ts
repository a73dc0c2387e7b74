/**
 * Chooses and starts the tfjs compute backend (DESIGN.md, "Compute backend").
 *
 * In order: `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node` (optional
 * dependencies with native libtensorflow, what production machines should use),
 * then `wasm` (`@tensorflow/tfjs-backend-wasm`, XNNPACK, multi-threaded where it
 * can be: `backend/wasm-threads.ts`, with the kernels training needs:
 * `backend/register-wasm-kernels.ts`), then `cpu`. `options.force` or the
 * `BONSAI_BACKEND` environment variable picks one; if that one cannot start,
 * `initBackend` throws `BONSAI_CORE_BACKEND_UNAVAILABLE` with the reason.
 *
 * `initBackend` also registers tfjs's gradient functions (they ship with the
 * `@tensorflow/tfjs` bundle, not with tfjs-core), so code written against
 * `@tensorflow/tfjs-core` can train once it has been awaited.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { BonsaiError } from './errors.ts';

const require = createRequire(import.meta.url);

/** The backends bonsai knows, in the order it tries them. */
export const BACKEND_KEYS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
/** One of `BACKEND_KEYS`. */
export type BackendKey = (typeof BACKEND_KEYS)[number];

/** Accepted spellings of each backend (`BONSAI_BACKEND=gpu|node|wasm|cpu` or the tfjs names). */
const ALIASES: Readonly<Record<string, BackendKey>> = {
  gpu: 'tensorflow-gpu', 'tensorflow-gpu': 'tensorflow-gpu', 'tfjs-node-gpu': 'tensorflow-gpu',
  node: 'tensorflow', tensorflow: 'tensorflow', 'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** The npm package behind each backend. */
const PACKAGES: Readonly<Record<BackendKey, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** Options of `initBackend`. */
export interface BackendOptions {
  /**
   * Use this backend instead of choosing: `gpu`, `node`, `wasm`, `cpu`, or the tfjs
   * names `tensorflow-gpu`, `tensorflow`. Overrides `BONSAI_BACKEND`.
   */
  force?: BackendKey | 'gpu' | 'node' | string;
  /**
   * Compute threads for the wasm backend (1 to 8; the threaded binary starts 8
   * workers). Default: `BONSAI_THREADS`, else the idle cores (available parallelism
   * minus the 1-minute load average, 1 to 8). The native backends choose their own.
   */
  threads?: number;
  /** Receives one line naming the chosen backend and why it was chosen. */
  log?: (msg: string) => void;
}

/** What `initBackend` chose. */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu` (`tf.getBackend()`). */
  readonly name: string;
  /** The npm package that provides it, e.g. `@tensorflow/tfjs-backend-wasm`. */
  readonly package: string;
  /** Threads it computes with (wasm: XNNPACK's pool; native: the machine's parallelism, libtensorflow's default). */
  readonly threads: number;
  /** wasm only: whether the SIMD binary runs. */
  readonly simd?: boolean;
  /** tensorflow only: whether libtensorflow placed work on a GPU. */
  readonly gpu?: boolean;
  /** Why this one: forced by whom, or why each backend before it could not start. */
  readonly reason: string;
  /** Versions: `tfjs-core`, the backend package, `node`, and `libtensorflow` where known. */
  readonly versions: Readonly<Record<string, string>>;
}

let pending: Promise<BackendInfo> | null = null;
let current: BackendInfo | null = null;
let currentKey: BackendKey | null = null;

/** The backend key for a `force`/`BONSAI_BACKEND` value; throws `BONSAI_CORE_BACKEND_UNKNOWN`. */
export function resolveBackendName(value: string): BackendKey {
  const key = ALIASES[value.trim().toLowerCase()];
  if (key === undefined) {
    throw new BonsaiError(
      'BONSAI_CORE_BACKEND_UNKNOWN',
      `unknown backend '${value}': use one of ${Object.keys(ALIASES).join(', ')}`,
      { value, accepted: Object.keys(ALIASES) },
    );
  }
  return key;
}

/** Threads for `cores` cores under a 1-minute load average `load`: the idle cores, rounded, 1 to 8. */
export function idleThreads(cores: number, load: number): number {
  return Math.max(1, Math.min(8, Math.round(cores - load)));
}

/** The wasm thread count and where it came from. */
interface ThreadChoice {
  threads: number;
  why: string;
}

/**
 * The thread count to use: the option, else `BONSAI_THREADS`, else the cores that
 * are idle now (available parallelism minus the 1-minute load average, rounded,
 * 1 to 8). On a busy machine extra threads wait for cores and make each step
 * slower (`bench/results/gemm.md`); on an idle one they make large convolutions
 * and matrix products faster.
 */
function resolveThreads(option: number | undefined): ThreadChoice {
  const env = process.env.BONSAI_THREADS;
  if (option === undefined && (env === undefined || env.trim() === '')) {
    const cores = availableParallelism();
    const load = loadavg()[0];
    return { threads: idleThreads(cores, load), why: `${cores} cores, 1-minute load ${load.toFixed(2)}` };
  }
  const raw = option ?? Number(env);
  const source = option !== undefined ? 'options.threads' : 'BONSAI_THREADS';
  if (!Number.isInteger(raw) || raw < 1) {
    throw new BonsaiError('BONSAI_CORE_BACKEND_THREADS', `${source} must be a positive integer, got ${String(option ?? env)}`, { source, value: option ?? env });
  }
  return { threads: raw, why: source };
}

function packageVersion(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** A short reason from a failed import or start. */
function describe(err: unknown, pkg: string): string {
  const e = err as { code?: string; message?: string };
  if ((e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && String(e.message).includes(pkg)) return `${pkg} is not installed`;
  const first = String(e.message ?? err).split('\n')[0];
  return `${pkg} failed: ${first}`;
}

/** Result of starting one backend. */
interface Started {
  name: string;
  threads: number;
  simd?: boolean;
  gpu?: boolean;
  notes: string[];
  versions: Record<string, string>;
}

async function startNative(key: 'tensorflow-gpu' | 'tensorflow'): Promise<Started> {
  const pkg = PACKAGES[key];
  let mod: unknown;
  try {
    mod = await import(pkg);
  } catch (err) {
    throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', describe(err, pkg), { package: pkg }, { cause: err });
  }
  if (!(await tf.setBackend('tensorflow'))) throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', `${pkg} loaded but its backend 'tensorflow' failed to initialise`, { package: pkg });
  const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean; binding?: { TF_Version?: string } };
  const versions: Record<string, string> = {};
  const tfVersion = backend.binding?.TF_Version ?? (mod as { version?: { tensorflow?: string } }).version?.tensorflow;
  if (typeof tfVersion === 'string') versions.libtensorflow = tfVersion;
  return {
    name: 'tensorflow',
    threads: availableParallelism(),
    gpu: typeof backend.isUsingGpuDevice === 'boolean' ? backend.isUsingGpuDevice : key === 'tensorflow-gpu',
    notes: [],
    versions,
  };
}

async function startWasm(choice: ThreadChoice): Promise<Started> {
  const requested = choice.threads;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { registerThreadedWasm, MAX_WASM_THREADS } = await import('./backend/wasm-threads.ts');
  const { registerWasmKernels } = await import('./backend/register-wasm-kernels.ts');
  const notes: string[] = [`${requested} thread${requested === 1 ? '' : 's'} (${choice.why})`];
  let threads = requested;
  if (threads > MAX_WASM_THREADS) {
    notes.push(`${requested} threads requested, wasm runs at most ${MAX_WASM_THREADS}`);
    threads = MAX_WASM_THREADS;
  }
  registerWasmKernels();
  if (threads > 1) {
    let restore: (() => void) | undefined;
    try {
      restore = await registerThreadedWasm(threads);
      if (!(await tf.setBackend('wasm'))) throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', 'the threaded wasm backend failed to initialise', { package: PACKAGES.wasm, threads });
      const actual = wasm.getThreadsCount();
      if (actual !== threads) notes.push(`asked XNNPACK for ${threads} threads, it runs ${actual}`);
      return { name: 'wasm', threads: actual, simd: true, notes, versions: {} };
    } catch (err) {
      restore?.();
      notes.push(`threads unavailable (${String((err as Error).message ?? err).split('\n')[0]}), running single-threaded`);
    }
  }
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', `${PACKAGES.wasm} failed to initialise`, { package: PACKAGES.wasm });
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return { name: 'wasm', threads: wasm.getThreadsCount(), simd: simd === true, notes, versions: {} };
}

async function startCpu(): Promise<Started> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', `${PACKAGES.cpu} failed to initialise`, { package: PACKAGES.cpu });
  // The cpu backend prints an advert for tfjs-node on its first tensor; the log line below says more.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name: 'cpu', threads: 1, notes: [], versions: {} };
}

function start(key: BackendKey, threads: ThreadChoice): Promise<Started> {
  switch (key) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return startNative(key);
    case 'wasm':
      return startWasm(threads);
    case 'cpu':
      return startCpu();
  }
}

async function choose(forced: { key: BackendKey; by: string } | null, options: BackendOptions): Promise<{ key: BackendKey; info: BackendInfo }> {
  // Gradient functions live in the @tensorflow/tfjs bundle; importing it registers them.
  await import('@tensorflow/tfjs');
  const threads = resolveThreads(options.threads);
  const order: readonly BackendKey[] = forced ? [forced.key] : BACKEND_KEYS;
  const skipped: string[] = [];
  for (const key of order) {
    let started: Started;
    try {
      started = await start(key, threads);
    } catch (err) {
      const why = String((err as Error).message ?? err);
      if (forced) {
        throw new BonsaiError(
          'BONSAI_CORE_BACKEND_UNAVAILABLE',
          `backend '${key}' (forced by ${forced.by}) cannot start: ${why}`,
          { backend: key, package: PACKAGES[key], forcedBy: forced.by, reason: why },
          { cause: err },
        );
      }
      skipped.push(why);
      continue;
    }
    const pkg = PACKAGES[key];
    const reasons = forced ? [`forced by ${forced.by}`] : skipped.length > 0 ? skipped : ['first choice'];
    const info: BackendInfo = Object.freeze({
      name: started.name,
      package: pkg,
      threads: started.threads,
      ...(started.simd !== undefined ? { simd: started.simd } : {}),
      ...(started.gpu !== undefined ? { gpu: started.gpu } : {}),
      reason: [...reasons, ...started.notes].join('; '),
      versions: Object.freeze({
        'tfjs-core': tf.version_core,
        ...(packageVersion(pkg) !== undefined ? { [pkg.replace('@tensorflow/', '')]: packageVersion(pkg) as string } : {}),
        node: process.versions.node,
        ...started.versions,
      }),
    });
    return { key, info };
  }
  throw new BonsaiError('BONSAI_CORE_BACKEND_UNAVAILABLE', `no backend could start: ${skipped.join('; ')}`, { tried: [...order], reasons: skipped });
}

/** One line for the log: name, package, threads, SIMD/GPU, reason. */
function describeInfo(info: BackendInfo): string {
  const extras = [
    `${info.package} ${info.versions[info.package.replace('@tensorflow/', '')] ?? ''}`.trim(),
    `${info.threads} thread${info.threads === 1 ? '' : 's'}`,
    ...(info.simd !== undefined ? [info.simd ? 'SIMD' : 'no SIMD'] : []),
    ...(info.gpu !== undefined ? [info.gpu ? 'GPU' : 'no GPU'] : []),
  ];
  return `backend: ${info.name} (${extras.join(', ')}): ${info.reason}`;
}

/**
 * Chooses and starts the compute backend, registers gradients and the wasm
 * training kernels, and logs the choice through `options.log`. Idempotent: later
 * calls return the same `BackendInfo` (and throw `BONSAI_CORE_BACKEND_CONFLICT`
 * if they force a different backend). A call that fails leaves nothing started,
 * so it can be retried.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const explicit = options.force !== undefined ? resolveBackendName(options.force) : null;
  if (pending === null) {
    const env = process.env.BONSAI_BACKEND;
    const forced = explicit !== null
      ? { key: explicit, by: `options.force='${options.force}'` }
      : env !== undefined && env.trim() !== '' ? { key: resolveBackendName(env), by: `BONSAI_BACKEND=${env}` } : null;
    pending = choose(forced, options).then(
      ({ key, info }) => {
        current = info;
        currentKey = key;
        options.log?.(describeInfo(info));
        return info;
      },
      (err: unknown) => {
        pending = null;
        throw err;
      },
    );
  }
  const info = await pending;
  if (explicit !== null && explicit !== currentKey) {
    throw new BonsaiError(
      'BONSAI_CORE_BACKEND_CONFLICT',
      `backend '${explicit}' was forced, but '${currentKey}' is already running (initBackend was called before)`,
      { forced: explicit, running: currentKey },
    );
  }
  return info;
}

/** The backend `initBackend` chose, or null before it has finished. */
export function backendInfo(): BackendInfo | null {
  return current;
}
