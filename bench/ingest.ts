/**
 * Ingest throughput: files per second from inbox/ to committed sample (ingestFile
 * end to end: read, hash, label, decode, store commit with fsync, move to
 * archive/), next to the decoding alone, so the ratio shows what the store and
 * the commit protocol cost.
 *
 * Data, generated into a temp dir: 2,000 28x28 grayscale PNGs (a few random
 * strokes on black, MNIST-like) and 500 one-second 8 kHz 16-bit WAVs (two
 * tones plus noise). Real processors: pipelines/image (sharp) and
 * pipelines/audio (MFCC), with the default config's specs and limits.
 *
 *   npx tsx bench/ingest.ts [--repeats 3] [--out bench/results]
 *
 * Writes `ingest.json` and `ingest.md` to the output folder.
 */
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { defaultConfig } from '../config/index.ts';
import { processImage, configureSharp } from '../pipelines/image/index.ts';
import { encodeWav, processAudio } from '../pipelines/audio/index.ts';
import { openStore } from '../pipelines/store/index.ts';
import { ingestFiles, processorByContent, ProcessingPool, type IngestorOptions, type Processor } from '../pipelines/ingest/index.ts';
import type { AudioSpec, ImageSpec, IngestLimits, Modality } from '../pipelines/types.ts';

const PNG_COUNT = 2000;
const WAV_COUNT = 500;
const GOALS: Record<Modality, number> = { image: 1000, audio: 300 };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** mulberry32: a small seeded PRNG, so every run ingests the same files. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function makePngs(n: number, random: () => number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const px = new Uint8Array(28 * 28);
    for (let s = 0; s < 3; s++) {
      let x = 6 + random() * 16;
      let y = 6 + random() * 16;
      const dx = random() * 2 - 1;
      const dy = random() * 2 - 1;
      for (let t = 0; t < 12; t++, x += dx, y += dy) {
        for (let oy = -1; oy <= 1; oy++) {
          for (let ox = -1; ox <= 1; ox++) {
            const xi = Math.round(x + ox);
            const yi = Math.round(y + oy);
            if (xi >= 0 && xi < 28 && yi >= 0 && yi < 28) px[yi * 28 + xi] = Math.max(px[yi * 28 + xi], 255 - 60 * (Math.abs(ox) + Math.abs(oy)));
          }
        }
      }
    }
    px[k % 784] ^= 1; // every image distinct
    out.push(await sharp(px, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer());
  }
  return out;
}

function makeWavs(n: number, random: () => number): Buffer[] {
  const rate = 8000;
  return Array.from({ length: n }, () => {
    const f1 = 200 + random() * 800;
    const f2 = 1000 + random() * 2000;
    const signal = new Float32Array(rate);
    for (let i = 0; i < rate; i++) {
      signal[i] = 0.4 * Math.sin((2 * Math.PI * f1 * i) / rate) + 0.2 * Math.sin((2 * Math.PI * f2 * i) / rate) + 0.05 * (random() * 2 - 1);
    }
    return Buffer.from(encodeWav(signal, rate));
  });
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** One way of decoding: on the main thread (sharp's own threads for images) or on a pool of worker threads. */
type Decoder = 'main' | 'pool';

interface Variant {
  name: string;
  decoder: Decoder;
  /** Undefined: decoding alone, no store. */
  options?: IngestorOptions;
}

const VARIANTS: Variant[] = [
  { name: 'decoding alone, main thread', decoder: 'main' },
  { name: 'decoding alone, worker pool', decoder: 'pool' },
  { name: 'ingest, group commit, main thread', decoder: 'main', options: {} },
  { name: 'ingest, group commit, worker pool', decoder: 'pool', options: {} },
  { name: 'ingest, one commit per file, main thread', decoder: 'main', options: { batchSize: 1, maxDelayMs: 0 } },
];

interface Measurement {
  modality: Modality;
  files: number;
  what: string;
  /** Files per second of each repeat. */
  runs: number[];
  median: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Files per second of one variant over `bytes`, in a fresh state directory. */
async function measure(variant: Variant, modality: Modality, ext: string, bytes: Buffer[], processFile: Processor): Promise<number> {
  const file = { path: '', source: '' };
  if (!variant.options) {
    const t0 = performance.now();
    await pool(bytes, 8, (b) => processFile(b, file));
    return bytes.length / ((performance.now() - t0) / 1000);
  }
  const stateDir = mkdtempSync(join(tmpdir(), 'bonsai-bench-ingest-'));
  try {
    const paths = bytes.map((b, i) => {
      const dir = join(stateDir, 'inbox', `c${i % 10}`);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${modality}-${i}.${ext}`);
      writeFileSync(path, b);
      return path;
    });
    const store = openStore(join(stateDir, 'store.db'));
    try {
      const t0 = performance.now();
      const outcomes = await ingestFiles(paths, {
        stateDir, store, process: processFile,
        resolveLabel: (f) => ({ target: { label: f.source.split('/')[0] } }),
      }, variant.options);
      const seconds = (performance.now() - t0) / 1000;
      const accepted = outcomes.filter((o) => o.outcome === 'accepted').length;
      if (accepted !== bytes.length) throw new Error(`${variant.name}: ${accepted} of ${bytes.length} ${modality} files accepted: ${JSON.stringify(outcomes.find((o) => o.outcome !== 'accepted'))}`);
      if (store.counts().total !== bytes.length) throw new Error(`${variant.name}: store holds ${store.counts().total} samples`);
      return bytes.length / seconds;
    } finally {
      store.close();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

type Corpus = Record<Modality, { ext: string; bytes: Buffer[] }>;

/** The machine and the settings the numbers were measured with. */
interface Environment {
  cpu: string;
  cores: number;
  node: string;
  sharp: string;
  vips: string;
  sharpConcurrency: number;
  uvThreadpool: number;
  poolThreads: number;
  storeSynchronous: string;
  loadAverage1m: number[];
}

/** ingest.json. */
interface Report {
  command: string;
  date: string;
  repeats: number;
  goals: Record<Modality, number>;
  env: Environment;
  variants: Variant[];
  imageSpec: ImageSpec;
  audioSpec: AudioSpec;
  results: Measurement[];
}

async function main(): Promise<void> {
  const repeats = Number(arg('repeats', '3'));
  const outDir = arg('out', join('bench', 'results'));
  const config = defaultConfig();
  const imageSpec: ImageSpec = { ...config.model.image, range: [config.model.image.range[0], config.model.image.range[1]] };
  const audioSpec: AudioSpec = { ...config.model.audio };
  const limits: IngestLimits = { ...config.ingest.limits };
  const sharpSettings = configureSharp();

  const random = rng(20240506);
  const data: Corpus = {
    image: { ext: 'png', bytes: await makePngs(PNG_COUNT, random) },
    audio: { ext: 'wav', bytes: makeWavs(WAV_COUNT, random) },
  };
  const threads = availableParallelism();
  const workerPool = new ProcessingPool({ threads, imageSpec, audioSpec, limits });
  const decoders: Record<Decoder, Processor> = {
    main: processorByContent({
      image: (bytes) => processImage(bytes, imageSpec, limits),
      audio: (bytes) => processAudio(bytes, audioSpec, limits),
    }),
    pool: processorByContent({
      image: (bytes) => workerPool.process(bytes, 'image'),
      audio: (bytes) => workerPool.process(bytes, 'audio'),
    }),
  };
  await warmUp(decoders, data);
  const { runs, load } = await measureAll(repeats, decoders, data);
  await workerPool.close();
  load.push(loadavg()[0]);
  const results: Measurement[] = [...runs].map(([key, rs]) => {
    const [modality, what] = key.split('\t') as [Modality, string];
    return { modality, files: data[modality].bytes.length, what, runs: rs.map((x) => Math.round(x)), median: Math.round(median(rs)) };
  });

  const env: Environment = {
    cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown', vips: sharp.versions.vips, sharpConcurrency: sharpSettings.concurrency,
    uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4), poolThreads: threads, storeSynchronous: 'FULL',
    loadAverage1m: load.map((x) => Number(x.toFixed(2))),
  };
  const json: Report = { command: 'npx tsx bench/ingest.ts', date: new Date().toISOString(), repeats, goals: GOALS, env, variants: VARIANTS, imageSpec, audioSpec, results };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'ingest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(outDir, 'ingest.md'), markdown(json));
  console.log(`wrote ${join(outDir, 'ingest.json')} and ${join(outDir, 'ingest.md')}`);
}

/** Warm-up: sharp loads libvips, the MFCC code builds its tables, workers load their modules. */
async function warmUp(decoders: Record<Decoder, Processor>, data: Corpus): Promise<void> {
  for (const d of Object.values(decoders)) {
    for (const m of ['image', 'audio'] as const) await pool(data[m].bytes.slice(0, 40), 8, (b) => d(b, { path: '', source: '' }));
  }
}

/** Every variant on both modalities, `repeats` times: files per second by modality and variant, and the load before each repeat. */
async function measureAll(repeats: number, decoders: Record<Decoder, Processor>, data: Corpus): Promise<{ runs: Map<string, number[]>; load: number[] }> {
  const runs = new Map<string, number[]>();
  const load: number[] = [];
  // Repeats outermost, so a change in the machine's load hits every variant alike.
  for (let r = 0; r < repeats; r++) {
    load.push(loadavg()[0]);
    for (const modality of ['image', 'audio'] as const) {
      for (const variant of VARIANTS) {
        const key = `${modality}\t${variant.name}`;
        const fps = await measure(variant, modality, data[modality].ext, data[modality].bytes, decoders[variant.decoder]);
        runs.set(key, [...(runs.get(key) ?? []), fps]);
        console.log(`repeat ${r + 1}: ${modality.padEnd(5)} ${variant.name.padEnd(42)} ${Math.round(fps).toString().padStart(6)} files/s`);
      }
    }
  }
  return { runs, load };
}

/** ingest.md. */
function markdown(json: Report): string {
  const { env, imageSpec, audioSpec, results } = json;
  const decoderOf = (what: string): Decoder => VARIANTS.find((v) => v.name === what)?.decoder ?? 'main';
  const rows = results.map((m) => {
    const alone = results.find((x) => x.modality === m.modality && x.what.startsWith('decoding') && decoderOf(x.what) === decoderOf(m.what));
    const ratio = m.what.startsWith('decoding') || !alone ? '' : (m.median / alone.median).toFixed(2);
    const goal = m.what.includes('group commit') ? `${m.median >= GOALS[m.modality] ? 'met' : 'missed'} (${GOALS[m.modality]})` : '';
    return `| ${m.modality} | ${m.files} | ${m.what} | ${m.median} | ${m.runs.join(', ')} | ${ratio} | ${goal} |`;
  });
  return [
    '# Ingest throughput',
    '',
    `Command: \`npx tsx bench/ingest.ts\` (${json.repeats} repeats, median shown). ${json.date.slice(0, 10)}.`,
    '',
    `Machine: ${env.cpu}, ${env.cores} cores, Node ${env.node}, sharp ${env.sharp} (libvips ${env.vips}, ${env.sharpConcurrency} thread per image, libuv pool ${env.uvThreadpool}).`,
    `Worker pool: ${env.poolThreads} threads. 1-minute load average during the run: ${env.loadAverage1m.join(', ')} (the machine is shared; absolute numbers move with it, ratios less).`,
    'Store: SQLite WAL, `synchronous = FULL` (fsync per commit), state directory in the OS temp folder.',
    'Ingest options: the defaults (8 files decoded at once; group commit = up to 64 files, or 20 ms, per transaction).',
    '',
    'Data: 2,000 generated 28x28 grayscale PNGs and 500 one-second 8 kHz 16-bit WAVs; default config specs',
    `(image ${imageSpec.height}x${imageSpec.width}x${imageSpec.channels} \`${imageSpec.resize}\`; audio ${audioSpec.coefficients} MFCCs${audioSpec.deltas ? ' + deltas' : ''}, ${audioSpec.windowMs} ms / ${audioSpec.hopMs} ms).`,
    '"ingest" is `ingestFiles` end to end: read, SHA-256, label, decode, store transaction, move to archive/.',
    '',
    '"vs decoding alone" divides by the decoding-alone rate of the same decoder (main thread or pool).',
    '',
    '| modality | files | what | files/s (median) | runs | vs decoding alone | goal |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

await main();
