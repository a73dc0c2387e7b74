/**
 * Helpers of the daemon's end-to-end tests and of bench/serve.ts: synthetic
 * 8x8 grey PNGs whose class is a bright band (easy to learn with a tiny MLP),
 * atomic drops into the inbox, a small test configuration, and polling.
 */
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseConfig, type Config, type ConfigInput } from '../../config/index.ts';
import type { DaemonOptions } from '../../daemon/daemon.ts';

/** Side of the synthetic images. */
export const SIDE = 8;

/** mulberry32: seeded, so every run drops the same files. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Grey pixels of one sample of class `k` (0..3): rows 2k and 2k+1 bright, the
 * rest dark, plus noise from `seed` (so every file has distinct content).
 * With `flip`, the band of class k is drawn where class 3-k's would be (a worse labelling).
 */
export function pixels(k: number, seed: number, flip = false): Uint8Array {
  const r = rng(seed * 7919 + k);
  const band = flip ? 3 - k : k;
  const out = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const on = y === 2 * band || y === 2 * band + 1;
      out[y * SIDE + x] = Math.max(0, Math.min(255, Math.round((on ? 200 : 30) + (r() - 0.5) * 60)));
    }
  }
  return out;
}

/** PNG bytes of `pixels(k, seed)`. */
export async function png(k: number, seed: number, flip = false): Promise<Buffer> {
  return sharp(Buffer.from(pixels(k, seed, flip)), { raw: { width: SIDE, height: SIDE, channels: 1 } }).png().toBuffer();
}

/** Class labels of the synthetic data. */
export const LABELS = ['a', 'b', 'c', 'd'];

/**
 * Drops `n` files into `inbox/<label>/` the way producers should: written under
 * a hidden temp name, then renamed in. Files are `s<seed>.png`, seeds from
 * `firstSeed`, classes round-robin. Returns the seeds dropped.
 */
export async function drop(inbox: string, n: number, firstSeed: number, options: { flip?: boolean; labels?: string[] } = {}): Promise<number[]> {
  const labels = options.labels ?? LABELS;
  const seeds: number[] = [];
  for (let i = 0; i < n; i++) {
    const seed = firstSeed + i;
    const k = seed % labels.length;
    const dir = join(inbox, labels[k]);
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `.s${seed}.png.tmp`);
    writeFileSync(tmp, await png(k, seed, options.flip));
    renameSync(tmp, join(dir, `s${seed}.png`));
    seeds.push(seed);
  }
  return seeds;
}

/** Writes `bytes` to `inbox/<source>` the way producers should: beside it first, then renamed in. */
export function putFile(inbox: string, source: string, bytes: Buffer): void {
  const path = join(inbox, source);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** A temp state directory. */
export function tempStateDir(prefix = 'bonsai-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small, fast configuration on `stateDir` (cpu backend, port 0, 8x8 images, few epochs). */
export function testConfig(stateDir: string, extra: ConfigInput = {}): Config {
  const base: ConfigInput = {
    stateDir,
    model: { image: { height: SIDE, width: SIDE, channels: 1, resize: 'fill' } },
    backend: { name: 'cpu' },
    algorithm: { newDataEpochs: 4, allDataEpochs: 4, growthInterval: 2, batchSize: 16, augment: false, retrainEpochs: 1, learningRate: 0.05 },
    ingest: { awaitWriteFinishMs: 50, reconcileIntervalSec: 1 },
    triggers: { pendingCount: 40, initialCount: 40, minIntervalSec: 0, maxWaitSec: null },
    // The mechanics under test run on a few dozen samples; the validation floor has its own test.
    gate: { minValidationSamples: 0 },
    server: { port: 0 },
    log: { level: 'warn', format: 'json' },
  };
  return parseConfig(merge(base as Record<string, unknown>, extra as Record<string, unknown>));
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && prev !== null && typeof prev === 'object' && !Array.isArray(prev)
      ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

/** The tiny network of the tests: an MLP 64-32-classes. */
export const TINY_MODEL: DaemonOptions['model'] = { arch: 'mlp', options: { hidden: [32] } };

/** Update settings that keep a test update to a few seconds. */
export const FAST_UPDATE: DaemonOptions['update'] = { maxPruneIterations: 4, initialDensity: 0.5, retrainEpochs: 0.5 };

/** Polls `fn` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** POSTs a PNG of class `k` to `/v1/predict`; returns status and body. */
export async function predictPng(url: string, k: number, seed: number): Promise<{ status: number; body: { version?: number; label?: string; error?: { code: string } } }> {
  const res = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await png(k, seed) });
  return { status: res.status, body: await res.json() as { version?: number; label?: string } };
}
