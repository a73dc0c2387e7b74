/**
 * Memory of an update's data: the trainer's peak resident memory while it reads
 * the data of one update from a large store, with every sample read (no budget,
 * as the paper's "all data") and within `algorithm.trainingDataMegabytes`
 * (daemon/trainer/selection.ts). Each reading runs in a fresh process, as the
 * trainer child does, and reports its peak RSS (getrusage) and its time; a
 * process that opens the store and reads nothing is the baseline.
 *
 * Data, generated into a temp dir: `--samples` 28x28 samples (784 float32
 * features, 3,136 bytes), ten labels, 90 % of them already trained on.
 *
 *   npx tsx bench/update-memory.ts [--samples 200000] [--budget 256] [--out bench/results]
 *
 * Writes `update-memory.json` and `update-memory.md` to the output folder.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore, type IngestRecord } from '../pipelines/store/index.ts';
import { readUpdateData } from '../daemon/trainer/data.ts';
import { seededRandom } from '../core/index.ts';
import { arg } from './args.ts';

const SHAPE = [28, 28, 1];
const SIZE = 784;
const MiB = 2 ** 20;

interface Reading {
  budgetMiB: number | null;
  /** Peak resident memory of the process, MiB. */
  peakMiB: number;
  seconds: number;
  allData: number;
  newData: number;
  validation: number;
  test: number;
  /** Feature bytes held (all, new, validation, test), MiB. */
  featuresMiB: number;
}

/** The child: opens the store read-only, reads one update's data (or nothing), prints its reading. */
function child(dir: string, budget: string): void {
  const store = openStore(join(dir, 'store.db'), { readonly: true });
  const t0 = performance.now();
  const budgetMiB = budget === 'none' ? null : Number(budget);
  let sizes = { allData: 0, newData: 0, validation: 0, test: 0 };
  if (budget !== 'baseline') {
    const data = readUpdateData(store, store.lastSeq(), SHAPE, budgetMiB === null ? null : budgetMiB * MiB);
    sizes = { allData: data.allData.n, newData: data.newData.n, validation: data.validation.n, test: data.test.n };
  }
  const seconds = (performance.now() - t0) / 1000;
  store.close();
  const featuresMiB = ((sizes.allData + sizes.newData + sizes.validation + sizes.test) * SIZE * 4) / MiB;
  const reading: Reading = { budgetMiB, peakMiB: process.resourceUsage().maxRSS / 1024, seconds, ...sizes, featuresMiB };
  process.stdout.write(JSON.stringify(reading));
}

function buildStore(dir: string, n: number): void {
  const store = openStore(join(dir, 'store.db'));
  const random = seededRandom(7);
  const group = 2000;
  try {
    for (let start = 0; start < n; start += group) {
      const records: IngestRecord[] = [];
      for (let i = start; i < Math.min(n, start + group); i++) {
        const features = new Float32Array(SIZE);
        for (let k = 0; k < SIZE; k++) features[k] = random();
        const id = createHash('sha256').update(`sample-${i}`).digest('hex');
        records.push({ kind: 'sample', id, source: `c${i % 10}/${i}.png`, fileKey: `bench:${i}`, sample: { modality: 'image', features, shape: SHAPE }, target: { label: `c${i % 10}` }, sidecars: [] });
      }
      store.commitIngest(records);
      if (start + group === Math.round(0.9 * n)) store.markTrained({ upToSeq: store.lastSeq() }, 1);
      if ((start / group) % 10 === 0) process.stderr.write(`\rstore: ${start + records.length} of ${n} samples`);
    }
    process.stderr.write('\n');
  } finally {
    store.close();
  }
}

function measure(dir: string, budget: string): Reading {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/update-memory.ts', '--child', dir, '--budget', budget], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Reading;
}

function main(): void {
  const childDir = arg('child', '');
  if (childDir) {
    child(childDir, arg('budget', 'none'));
    return;
  }
  const samples = arg('samples', 200_000);
  const budget = arg('budget', 256);
  const outDir = arg('out', 'bench/results');
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-update-memory-'));
  try {
    buildStore(dir, samples);
    const baseline = measure(dir, 'baseline');
    const readings = [measure(dir, 'none'), measure(dir, String(budget)), measure(dir, String(budget / 4))];
    const result = { samples, featureBytes: SIZE * 4, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, date: new Date().toISOString(), baseline, readings };
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'update-memory.json'), `${JSON.stringify(result, null, 2)}\n`);
    const rows = readings.map((r) => {
      const above = r.peakMiB - baseline.peakMiB;
      return `| ${r.budgetMiB === null ? 'none (every sample)' : `${r.budgetMiB} MiB`} | ${r.allData} | ${r.newData} | ${r.validation} | ${r.test} | ${r.featuresMiB.toFixed(0)} | ${r.peakMiB.toFixed(0)} | ${above.toFixed(0)} | ${(above / r.featuresMiB).toFixed(2)} | ${r.seconds.toFixed(1)} |`;
    });
    const md = [
      '# Memory of an update\'s data',
      '',
      `Made by \`npx tsx bench/update-memory.ts --samples ${samples} --budget ${budget}\` on ${result.date.slice(0, 10)} (${result.cpu}, Node ${result.node}).`,
      `A store of ${samples} samples of 28x28 float32 features (3,136 bytes each; ${((samples * SIZE * 4) / MiB).toFixed(0)} MiB in all), ten labels, the last 10 % pending.`,
      'Each row is one fresh process that opens the store read-only and reads one update\'s data (new, all, validation, test), as the trainer child does,',
      `with the memory budget \`algorithm.trainingDataMegabytes\` given (daemon/trainer/selection.ts); peak RSS from getrusage. A process that opens the store and reads nothing peaks at ${baseline.peakMiB.toFixed(0)} MiB (the baseline).`,
      '',
      '| budget | all data | new data | validation | test | features held (MiB) | peak RSS (MiB) | above the baseline (MiB) | above the baseline / features held | read seconds |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      'Features held count the new data twice (they are also in all data). Without a budget the memory an update needs grows with the store, without bound;',
      'within one it stays at the budget plus a quarter of it for validation and test, whatever the store holds.',
      '',
    ].join('\n');
    writeFileSync(join(outDir, 'update-memory.md'), md);
    process.stdout.write(md);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
