/**
 * Soak benchmark of the daemon (issue 13, item 10): does memory level off over
 * many updates, or grow with every one?
 *
 * A real daemon (`startDaemon`, the default backend, the trainer in its niced
 * child process) runs in this process on tiny synthetic data: 8x8 grey PNGs of
 * four classes (test/daemon/e2e-helpers.ts), an MLP 64-32-4, one epoch of E1 and
 * of E2, two pruning iterations. Batches of `--batch` files are dropped into the
 * inbox, each crossing `triggers.pendingCount`, so every batch is one update.
 * Throughout, `--clients` keep-alive clients post PNGs to `POST /v1/predict`
 * (loopback, closed loop, a short pause between requests, each request bounded
 * by a timeout).
 *
 * After every update it samples this process's RSS and V8 heap (as found, and
 * again right after a full garbage collection, which shows what stays), the wasm
 * backend's linear memory, `tf.memory()` (bytes, tensors), and the trainer
 * child's peak RSS (VmHWM from /proc, polled while it runs), and counts
 * predictions and failures. RSS is fitted by least squares against the update
 * number over the first and the last 100 updates (a third of the run when it is
 * shorter): a flat last slope means memory levels off.
 *
 *   npm run bench:soak [-- --updates 300 --batch 24 --clients 3 --gc on|off --out bench/results]
 *   npm run bench:soak -- --from bench/results/soak.json    (draw the page and plot again)
 *
 * Writes `soak.json`, `soak.md` and `soak.png` (RSS, heap, wasm memory and
 * tensors against the update number; vega-lite rendered by vega and sharp, as
 * experiments/plot.ts does) to the output folder.
 */
import { readFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { tf, backendInfo } from '../core/index.ts';
import { startDaemon, type Daemon } from '../daemon/daemon.ts';
import { createLog } from '../daemon/logging.ts';
import { startTrainer, type TrainerHandle, type TrainerOptions, type UpdateRecord } from '../daemon/trainer/index.ts';
import { LABELS, TINY_MODEL, drop, png, tempStateDir, testConfig, waitFor } from '../test/daemon/e2e-helpers.ts';
import { progressSink } from '../experiments/progress.ts';
import { arg } from './args.ts';

const UPDATES = arg('updates', 300);
const BATCH = arg('batch', 24);
const CLIENTS = arg('clients', 3);
const OUT = arg('out', 'bench/results');
/** `off`: no forced garbage collection, so memory is sampled as V8 leaves it (after-GC figures = as found). */
const GC = arg('gc', 'on');
/** A `soak.json` to draw the page and plot from again, without a run. */
const FROM = arg('from', '');
/** Pause of a load client between two requests (ms). */
const PAUSE_MS = 20;
/** Bound on one predict request (ms). */
const REQUEST_TIMEOUT_MS = 10_000;
/** Bound on one update, from its batch's drop to its record (ms). */
const UPDATE_TIMEOUT_MS = 300_000;
const MB = 1024 * 1024;

/** Memory and load after one update. */
export interface SoakSample {
  /** 0 after the first model, then 1..updates. */
  update: number;
  /** Seconds since the first model. */
  seconds: number;
  outcome: string;
  version: number | null;
  /** Samples in the store. */
  samples: number;
  /** This process (server, ingest, gate, swap), in MB, as found after the update. */
  rssMb: number;
  /** RSS and V8 heap used right after a full garbage collection (what stays). */
  rssAfterGcMb: number;
  heapAfterGcMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  /** The wasm backend's linear memory (MB), null on other backends. */
  wasmMb: number | null;
  /** `tf.memory()` of this process. */
  tfBytesMb: number;
  tensors: number;
  /** Peak RSS of this update's trainer child (MB), null where /proc is not readable. */
  trainerPeakRssMb: number | null;
  /** Predictions answered 200 and failed, since the load started. */
  predicts: number;
  predictFailures: number;
}

/** A least-squares line y = intercept + slope x. */
export interface Fit { slope: number; intercept: number; n: number }

/** Plain least squares of `ys` against `xs`. */
export function leastSquares(xs: readonly number[], ys: readonly number[]): Fit {
  const n = xs.length;
  if (n < 2) return { slope: 0, intercept: ys[0] ?? 0, n };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The wasm backend's linear memory in bytes (its emscripten heap), or null on another backend. */
function wasmBytes(): number | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? null;
}

/** Peak resident set of a process in bytes (Linux VmHWM), or null. */
function peakRss(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Starts the real trainer child and polls its peak RSS until it exits; `last()` is the latest child's peak. */
function measuredTrainer(): { start: (options: TrainerOptions) => TrainerHandle; last: () => number | null } {
  let last: number | null = null;
  const start = (options: TrainerOptions): TrainerHandle => {
    const handle = startTrainer(options);
    let peak: number | null = null;
    const poll = (): void => {
      const v = handle.pid === undefined ? null : peakRss(handle.pid);
      if (v !== null) peak = Math.max(peak ?? 0, v);
    };
    const timer = setInterval(poll, 100);
    const done = (): void => {
      clearInterval(timer);
      last = peak;
    };
    handle.result.then(done, done);
    return handle;
  };
  return { start, last: () => last };
}

/** Closed-loop predict load: `clients` keep-alive clients until `stop()`. */
function predictLoad(url: string, clients: number): { stop: () => Promise<void>; ok: () => number; failed: () => number; errors: string[] } {
  const bodies: Promise<Buffer>[] = Array.from({ length: 32 }, (_, i) => png(i % LABELS.length, 1_000_000 + i));
  let running = true;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const client = async (c: number): Promise<void> => {
    for (let k = c; running; k++) {
      try {
        const res = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await bodies[k % bodies.length], signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else {
          failed++;
          if (errors.length < 10) errors.push(`status ${res.status}`);
        }
      } catch (err) {
        failed++;
        if (errors.length < 10) errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  };
  const all = Array.from({ length: clients }, (_, c) => client(c));
  return {
    stop: async () => {
      running = false;
      await Promise.all(all);
    },
    ok: () => ok,
    failed: () => failed,
    errors,
  };
}

/** The next update's record, once its batch has been dropped. */
function nextRecord(daemon: Daemon): Promise<UpdateRecord> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no update finished within ${UPDATE_TIMEOUT_MS} ms`)), UPDATE_TIMEOUT_MS);
    daemon.events.once('finished', (r) => {
      clearTimeout(timer);
      resolve(r);
    });
  });
}

/** The sample after an update; runs `gc` between the raw and the after-GC figures. */
function sample(gc: () => void, daemon: Daemon, update: number, t0: number, record: UpdateRecord, trainerPeak: number | null, load: { ok: () => number; failed: () => number } | null): SoakSample {
  const m = process.memoryUsage();
  const t = tf.memory();
  const wasm = wasmBytes();
  gc();
  const after = process.memoryUsage();
  return {
    update,
    seconds: round((performance.now() - t0) / 1000, 1),
    outcome: record.outcome,
    version: record.version,
    samples: daemon.store.counts().total,
    rssMb: round(m.rss / MB),
    rssAfterGcMb: round(after.rss / MB),
    heapAfterGcMb: round(after.heapUsed / MB),
    heapUsedMb: round(m.heapUsed / MB),
    heapTotalMb: round(m.heapTotal / MB),
    externalMb: round(m.external / MB),
    arrayBuffersMb: round(m.arrayBuffers / MB),
    wasmMb: wasm === null ? null : round(wasm / MB),
    tfBytesMb: round(t.numBytes / MB, 3),
    tensors: t.numTensors,
    trainerPeakRssMb: trainerPeak === null ? null : round(trainerPeak / MB),
    predicts: load?.ok() ?? 0,
    predictFailures: load?.failed() ?? 0,
  };
}

/** V8's full garbage collection (exposed at run time), or null where it cannot be requested. */
function exposeGc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => { gc(); } : null;
  } catch {
    return null;
  }
}

/** Least-squares slopes per update: over the first and the last window of updates, and over consecutive windows. */
export interface Slopes { first: number; last: number; windows: number[] }

/** Slopes of one series (per update) over the first and the last `window` samples after the first model. */
function slopes(samples: readonly SoakSample[], pick: (s: SoakSample) => number | null, window: number): Slopes {
  const after = samples.filter((s) => s.update > 0 && pick(s) !== null);
  const fit = (part: readonly SoakSample[]): number => round(leastSquares(part.map((s) => s.update), part.map((s) => pick(s) as number)).slope, 4);
  const windows: number[] = [];
  for (let i = 0; i + window <= after.length; i += window) windows.push(fit(after.slice(i, i + window)));
  return { first: fit(after.slice(0, window)), last: fit(after.slice(-window)), windows };
}

/** The slopes of every series. */
function slopesOf(samples: readonly SoakSample[], window: number): SoakResult['slopesMbPerUpdate'] {
  return {
    rss: slopes(samples, (s) => s.rssMb, window),
    rssAfterGc: slopes(samples, (s) => s.rssAfterGcMb, window),
    heapUsed: slopes(samples, (s) => s.heapUsedMb, window),
    heapAfterGc: slopes(samples, (s) => s.heapAfterGcMb, window),
    wasm: samples.some((s) => s.wasmMb !== null) ? slopes(samples, (s) => s.wasmMb, window) : null,
    tensors: slopes(samples, (s) => s.tensors, window),
    trainerPeak: slopes(samples, (s) => s.trainerPeakRssMb, window),
  };
}

/** What the run measured. */
export interface SoakResult {
  command: string;
  date: string;
  machine: { cpus: number; cpu?: string; node: string; loadavg: number[] };
  backend: string | null;
  backendThreads: number | null;
  settings: { updates: number; batch: number; clients: number; pauseMs: number; image: string; model: string; epochs: string; maxPruneIterations: number };
  seconds: number;
  outcomes: Record<string, number>;
  window: number;
  /** Whether a full garbage collection ran before each after-GC figure. */
  gc: boolean;
  slopesMbPerUpdate: { rss: Slopes; rssAfterGc: Slopes; heapUsed: Slopes; heapAfterGc: Slopes; wasm: Slopes | null; tensors: Slopes; trainerPeak: Slopes };
  predicts: { ok: number; failed: number; errors: string[] };
  verdict: { levelsOff: boolean; text: string };
  samples: SoakSample[];
}

/** Growth per update (MB) below which RSS over the last window counts as level: 30 MB per 1,000 updates. */
const LEVEL_SLOPE_MB = 0.03;

/**
 * The verdict of a run without forced collections: the V8 heap at its troughs (an
 * update after which the heap as found is lower than after the updates on either
 * side, i.e. V8 ran a major collection) is what stays; RSS follows the heap's peaks.
 */
function troughVerdict(samples: readonly SoakSample[]): { levelsOff: boolean; text: string } {
  const after = samples.filter((x) => x.update > 0);
  const troughs = after.filter((x, i) => i > 0 && i < after.length - 1 && x.heapUsedMb < after[i - 1].heapUsedMb && x.heapUsedMb < after[i + 1].heapUsedMb);
  const fit = round(leastSquares(troughs.map((x) => x.update), troughs.map((x) => x.heapUsedMb)).slope, 4);
  const levelsOff = troughs.length >= 3 && fit <= LEVEL_SLOPE_MB;
  const heaps = troughs.map((x) => x.heapUsedMb);
  const rss = after.map((x) => x.rssMb);
  const text = `${levelsOff ? 'the live heap levels off' : 'the live heap grows'}: no collection was forced, so the heap as found rises by the garbage of each update until V8 runs a major collection; ` +
    `after V8's own ${troughs.length} major collections (updates ${troughs.map((x) => x.update).join(', ')}) the heap was ${Math.min(...heaps)} to ${Math.max(...heaps)} MB, least-squares slope ${fit} MB per update (at most ${LEVEL_SLOPE_MB} counts as level); ` +
    `RSS as found was ${Math.min(...rss)} to ${Math.max(...rss)} MB (V8 keeps the pages its heap grew to)`;
  return { levelsOff, text };
}

/** The verdict from the slopes. */
function verdictOf(r: Pick<SoakResult, 'slopesMbPerUpdate' | 'window' | 'samples' | 'gc'>): { levelsOff: boolean; text: string } {
  if (!r.gc) return troughVerdict(r.samples);
  const s = r.slopesMbPerUpdate.rssAfterGc;
  const first = r.samples.find((x) => x.update === 1);
  const last = r.samples[r.samples.length - 1];
  const after = r.samples.filter((x) => x.update > 0);
  const levelsOff = s.last <= LEVEL_SLOPE_MB;
  const low = Math.min(...after.map((x) => x.rssAfterGcMb));
  const high = Math.max(...after.map((x) => x.rssAfterGcMb));
  const span = first && last
    ? `RSS ${r.gc ? 'after a full GC' : 'as V8 left it (no forced GC: it rises until V8 collects)'} was ${first.rssAfterGcMb} MB after update 1 and ${last.rssAfterGcMb} MB after update ${last.update} (between ${low} and ${high} MB throughout)`
    : 'no updates';
  const slopeText = `least-squares slope ${s.first} MB per update over the first ${r.window} updates and ${s.last} over the last ${r.window}`;
  const text = levelsOff
    ? `levels off: ${span}; ${slopeText} (at most ${LEVEL_SLOPE_MB}, 30 MB per 1,000 updates, counts as level)`
    : `grows: ${span}; ${slopeText} (more than ${LEVEL_SLOPE_MB}, 30 MB per 1,000 updates)`;
  return { levelsOff, text };
}

/** Renders RSS, heap, wasm memory and the trainer's peak RSS (MB) above the tensor count, against the update number. */
async function plot(path: string, samples: readonly SoakSample[], gc: boolean): Promise<void> {
  const memory: Array<{ update: number; mb: number; series: string }> = [];
  for (const s of samples) {
    memory.push({ update: s.update, mb: s.rssMb, series: 'RSS' }, { update: s.update, mb: s.heapUsedMb, series: 'V8 heap used' });
    if (gc) memory.push({ update: s.update, mb: s.rssAfterGcMb, series: 'RSS after GC' }, { update: s.update, mb: s.heapAfterGcMb, series: 'V8 heap after GC' });
    if (s.wasmMb !== null) memory.push({ update: s.update, mb: s.wasmMb, series: 'wasm memory' });
    if (s.trainerPeakRssMb !== null) memory.push({ update: s.update, mb: s.trainerPeakRssMb, series: 'trainer child peak RSS' });
  }
  const x = { field: 'update', type: 'quantitative', title: 'update' } as const;
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'bonsai soak: memory after each update',
    background: 'white',
    padding: 12,
    vconcat: [
      {
        width: 720,
        height: 300,
        data: { values: memory },
        mark: { type: 'line' },
        encoding: { x, y: { field: 'mb', type: 'quantitative', title: 'MiB' }, color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'right' } } },
      },
      {
        width: 720,
        height: 120,
        data: { values: samples.map((s) => ({ update: s.update, tensors: s.tensors })) },
        mark: { type: 'line', color: '#555' },
        encoding: { x, y: { field: 'tensors', type: 'quantitative', title: 'tfjs tensors', scale: { zero: true } } },
      },
    ],
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    await sharp(Buffer.from(svg), { density: 144 }).png().toFile(path);
  } finally {
    view.finalize();
  }
}

/** Markdown page of the result. */
function markdown(r: SoakResult): string {
  const every = Math.max(1, Math.round(r.settings.updates / 12));
  const rows = r.samples.filter((s) => s.update % every === 0 || s === r.samples[r.samples.length - 1]);
  const n = (x: number | null): string => (x === null ? '-' : String(x));
  const sl = r.slopesMbPerUpdate;
  return [
    '# Soak benchmark',
    '',
    `Command: \`${r.command}\` (${r.date.slice(0, 10)}, ${Math.round(r.seconds / 60)} minutes).`,
    '',
    `Machine: ${r.machine.cpu ?? 'unknown CPU'}, ${r.machine.cpus} cores, Node ${r.machine.node}; 1-minute load average at the end: ${r.machine.loadavg.join(', ')} (the machine is shared).`,
    `Backend: ${r.backend} with ${r.backendThreads} thread(s), in the server and in the trainer child (nice +10).`,
    `Daemon: \`startDaemon\` in this process on ${r.settings.image} PNGs of 4 classes, model ${r.settings.model}, ${r.settings.epochs}, at most ${r.settings.maxPruneIterations} pruning iterations, a batch of ${r.settings.batch} files per update (\`triggers.pendingCount\`), gate at defaults with \`minValidationSamples: 0\`.`,
    `Load: ${r.settings.clients} keep-alive clients on \`POST /v1/predict\` (one PNG each, ${r.settings.pauseMs} ms pause between requests), from the first model to the end.`,
    '',
    '![RSS, heap, wasm memory and tensors against the update number](soak.png)',
    '',
    `## Verdict: ${r.gc ? (r.verdict.levelsOff ? 'memory levels off' : 'memory grows') : (r.verdict.levelsOff ? 'the live heap levels off' : 'the live heap grows')}`,
    '',
    `- ${r.verdict.text}.`,
    `- RSS after GC, slope per update over consecutive windows of ${r.window} updates: ${sl.rssAfterGc.windows.join(', ')} MB; V8 heap after GC: ${sl.heapAfterGc.windows.join(', ')} MB; the trainer child's peak RSS: ${sl.trainerPeak.windows.join(', ')} MB (a new child each update, which reads every sample: it grows with the store, not with the updates).`,
    `- Least-squares slope per update, first ${r.window} / last ${r.window} updates: RSS after GC ${sl.rssAfterGc.first} / **${sl.rssAfterGc.last} MB**, RSS as found ${sl.rss.first} / ${sl.rss.last} MB, V8 heap after GC ${sl.heapAfterGc.first} / ${sl.heapAfterGc.last} MB, V8 heap as found ${sl.heapUsed.first} / ${sl.heapUsed.last} MB${sl.wasm ? `, wasm memory ${sl.wasm.first} / ${sl.wasm.last} MB` : ''}, tensors ${sl.tensors.first} / ${sl.tensors.last}.`,
    `- Updates: ${Object.entries(r.outcomes).map(([k, v]) => `${v} ${k}`).join(', ')}.`,
    `- Predictions: **${r.predicts.ok} answered, ${r.predicts.failed} failed**${r.predicts.errors.length ? ` (${r.predicts.errors.join('; ')})` : ''}.`,
    '',
    '## Samples',
    '',
    'After each update, before the next batch is dropped; MB are MiB. Update 0 is the first model. "as found" is the',
    `figure before a full garbage collection, "after GC" right after one${r.gc ? '' : ' (this run forced none, `--gc off` or none could be requested: the two are equal)'}: V8 collects when it`,
    'chooses, so the figures as found rise and fall by tens of MB from one update to the next, and the after-GC ones show what stays.',
    '',
    '| update | minutes | samples | RSS | RSS after GC | heap used | heap after GC | external | wasm | tf bytes | tensors | trainer peak RSS | predicts | failed |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((s) => `| ${s.update} | ${round(s.seconds / 60, 1)} | ${s.samples} | ${s.rssMb} | ${s.rssAfterGcMb} | ${s.heapUsedMb} | ${s.heapAfterGcMb} | ${s.externalMb} | ${n(s.wasmMb)} | ${s.tfBytesMb} | ${s.tensors} | ${n(s.trainerPeakRssMb)} | ${s.predicts} | ${s.predictFailures} |`),
    '',
    'Every sample is in `soak.json`.',
    '',
  ].join('\n');
}

/** Writes `soak.json`, `soak.md` and `soak.png` to the output folder. */
async function write(result: SoakResult): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(OUT, 'soak.md'), markdown(result));
  await plot(join(OUT, 'soak.png'), result.samples, result.gc);
}

/** Draws the page and the plot again from a saved `soak.json` (the verdict too). */
async function redraw(path: string): Promise<void> {
  const result = JSON.parse(readFileSync(path, 'utf8')) as SoakResult;
  result.slopesMbPerUpdate = slopesOf(result.samples, result.window);
  result.verdict = verdictOf(result);
  await write(result);
  process.stderr.write(`${result.verdict.text}; wrote ${join(OUT, 'soak.md')}\n`);
}

async function main(): Promise<void> {
  const started = new Date();
  const sink = progressSink();
  const stateDir = tempStateDir('bonsai-bench-soak-');
  const maxPruneIterations = 2;
  const config = testConfig(stateDir, {
    backend: { name: 'auto' },
    algorithm: { newDataEpochs: 1, allDataEpochs: 1, growthInterval: 1, retrainEpochs: 0.25 },
    triggers: { pendingCount: BATCH, initialCount: BATCH },
    ingest: { reconcileIntervalSec: 5 },
  });
  const trainer = measuredTrainer();
  const gc = GC === 'off' ? null : exposeGc();
  const daemon = await startDaemon(config, {
    token: 'bench-token',
    model: TINY_MODEL,
    update: { maxPruneIterations, initialDensity: 0.5, retrainEpochs: 0.25 },
    startTrainer: trainer.start,
    log: createLog({ level: 'error', format: 'json', stream: process.stderr }),
  });
  const inbox = join(stateDir, 'inbox');
  const samples: SoakSample[] = [];
  const outcomes: Record<string, number> = {};
  let load: ReturnType<typeof predictLoad> | null = null;
  let seed = 0;
  try {
    const t0 = performance.now();
    for (let u = 0; u <= UPDATES; u++) {
      const finished = nextRecord(daemon);
      await drop(inbox, BATCH, seed);
      seed += BATCH;
      const record = await finished;
      if (u === 0) {
        await waitFor('the first model', () => daemon.holder.version !== null, 60_000);
        load = predictLoad(daemon.url, CLIENTS);
      } else {
        outcomes[record.outcome] = (outcomes[record.outcome] ?? 0) + 1;
      }
      await waitFor('the update to finish', () => !daemon.scheduler.busy, 60_000);
      const s = sample(gc ?? (() => undefined), daemon, u, t0, record, trainer.last(), load);
      samples.push(s);
      sink.line(`update ${u}/${UPDATES} ${record.outcome} v${record.version ?? '-'} ${record.seconds.toFixed(1)} s: rss ${s.rssMb} MB, heap ${s.heapUsedMb} MB, after GC rss ${s.rssAfterGcMb} MB heap ${s.heapAfterGcMb} MB, wasm ${s.wasmMb ?? '-'} MB, tensors ${s.tensors}, trainer peak ${s.trainerPeakRssMb ?? '-'} MB, predicts ${s.predicts} (${s.predictFailures} failed)`);
    }
    await load?.stop();
    const seconds = (performance.now() - t0) / 1000;
    const window = Math.max(2, Math.min(100, Math.floor(UPDATES / 3)));
    const partial = {
      gc: gc !== null,
      window,
      samples,
      slopesMbPerUpdate: slopesOf(samples, window),
    };
    const result: SoakResult = {
      command: `npm run bench:soak -- --updates ${UPDATES} --batch ${BATCH} --clients ${CLIENTS}${GC === 'off' ? ' --gc off' : ''}`,
      date: started.toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg().map((x) => round(x)) },
      backend: backendInfo()?.name ?? null,
      backendThreads: backendInfo()?.threads ?? null,
      settings: { updates: UPDATES, batch: BATCH, clients: CLIENTS, pauseMs: PAUSE_MS, image: '8x8 grey', model: 'MLP 64-32-4', epochs: 'E1 = E2 = 1 epoch (the first model 2)', maxPruneIterations },
      seconds: round(seconds, 1),
      outcomes,
      ...partial,
      predicts: { ok: load?.ok() ?? 0, failed: load?.failed() ?? 0, errors: load?.errors ?? [] },
      verdict: verdictOf(partial),
    };
    await write(result);
    sink.line(`${result.verdict.text}; predicts ${result.predicts.ok} ok, ${result.predicts.failed} failed; wrote ${join(OUT, 'soak.md')}`);
  } finally {
    await load?.stop();
    sink.stop();
    await daemon.stop('benchmark done');
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (FROM !== '') await redraw(FROM);
else await main();
process.exit(0);
