/**
 * Runs bench/torch_reference.py (PyTorch on the same workloads) beside our own
 * measurements, when a python3 with torch is installed. Debian's `python3-torch`
 * installs for /usr/bin/python3, which need not be the `python3` on PATH (pyenv),
 * so /usr/bin/python3 is tried first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./torch_reference.py', import.meta.url));

/** A python3 that imports torch, or why there is none. */
export type TorchPython = { python: string; torch: string } | { python: null; reason: string };

/** PyTorch's figures for one model, as torch_reference.py prints them. */
export interface TorchFigures {
  model: string;
  density: number;
  torch: string;
  threads: number;
  blas: string;
  /** How the process's allocator was set (torch_reference.py fixes glibc's mmap threshold). */
  allocator: string;
  trainSamplesPerSec: number;
  inferBatch1PerSec: number;
  inferBatch128PerSec: number;
  /** A 512^3 matmul at the same thread count, GFLOP/s (ours: bench/throughput.ts `gemmFlops`). */
  gemmGflops: number;
}

/** Finds a python3 with torch: `override` (e.g. `--python`), else /usr/bin/python3, else `python3` on PATH. */
export function findTorchPython(override?: string): TorchPython {
  const candidates = override ? [override] : [...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : []), 'python3'];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python, torch: r.stdout.trim() };
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${python}: ${why}`);
  }
  return { python: null, reason: `no python3 with torch (${tried.join('; ')})` };
}

/** PyTorch's figures for `model` at `density` on `threads` threads (default 1). */
export function runTorchReference(python: string, model: string, options: { density?: number; seconds?: number; threads?: number } = {}): TorchFigures {
  const args = [SCRIPT, '--model', model, '--density', String(options.density ?? 1), '--seconds', String(options.seconds ?? 3), '--threads', String(options.threads ?? 1)];
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 600_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`${python} bench/torch_reference.py --model ${model} failed (exit ${r.status}): ${line || r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(line) as TorchFigures;
}

/**
 * PyTorch at its best on this machine: run at one thread and, when `threads` is more, at
 * `threads` too (at two threads on two busy cores its small steps can be slower than at one:
 * OpenMP's spinning workers and OpenBLAS's own threads share the cores), keeping the faster
 * figure of each measurement; `threads` then says which count won the training figure.
 */
export function runTorchBest(python: string, model: string, options: { density?: number; seconds?: number; threads: number }): TorchFigures & { threadsTried: number[] } {
  const counts = [...new Set([1, options.threads])];
  const runs = counts.map((threads) => runTorchReference(python, model, { ...options, threads }));
  const best = (f: (t: TorchFigures) => number) => Math.max(...runs.map(f));
  const trainWinner = runs.reduce((a, b) => (b.trainSamplesPerSec > a.trainSamplesPerSec ? b : a));
  return {
    ...trainWinner, threadsTried: counts,
    trainSamplesPerSec: best((t) => t.trainSamplesPerSec), inferBatch1PerSec: best((t) => t.inferBatch1PerSec),
    inferBatch128PerSec: best((t) => t.inferBatch128PerSec), gemmGflops: best((t) => t.gemmGflops),
  };
}

/** The BLAS implementation's short name from torch_reference.py's list of mapped libraries. */
export function blasName(blas: string): string {
  if (/openblas/i.test(blas)) return 'OpenBLAS';
  if (/mkl/i.test(blas)) return 'MKL';
  if (/blis/i.test(blas)) return 'BLIS';
  if (/\/blas\/libblas/.test(blas)) return 'reference BLAS (slow: install libopenblas0)';
  return blas;
}
