/**
 * `bonsai report`: the panels of the Grafana dashboard (deploy/grafana) as one
 * PNG (or SVG) page, for people without Grafana. From Prometheus with
 * `--prometheus URL`, else from the model registry history of the state
 * directory (`--state-dir`, or the config's stateDir).
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BonsaiError } from '../../core/errors.ts';
import { expandHome, loadConfig } from '../../config/index.ts';
import { parseDuration, renderReportPng, renderReportSvg, reportFromHistory, reportFromPrometheus, type ReportData } from '../../report/index.ts';

interface ReportOptions {
  prometheus?: string;
  range: string;
  step?: string;
  rateInterval?: string;
  job: string;
  instance: string;
  stateDir?: string;
  config?: string;
  out: string;
  columns: string;
  scale: string;
}

function duration(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (cause) {
    throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `${flag} must be a duration such as 30s, 15m, 24h or 7d, got "${value}"`, { [flag]: value }, { cause });
  }
}

function positive(flag: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n))) {
    throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`, { [flag]: value });
  }
  return n;
}

/** Registers `bonsai report`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('render the dashboard\'s panels as a PNG page, from Prometheus or from the model registry history')
    .option('--prometheus <url>', 'Prometheus base URL, e.g. http://127.0.0.1:9090 (default: the registry history)')
    .option('--range <duration>', 'time range ending now (Prometheus)', '24h')
    .option('--step <duration>', 'resolution (Prometheus; default range/200, at least 15s)')
    .option('--rate-interval <duration>', 'window of rate() and increase() (Prometheus; default max(step, 60s))')
    .option('--job <regex>', 'job label to show (Prometheus)', '.+')
    .option('--instance <regex>', 'instance label to show (Prometheus)', '.+')
    .option('--state-dir <dir>', 'state directory whose models/ history to draw (default: the config\'s stateDir)')
    .option('--config <file>', 'config file (for stateDir)')
    .option('--out <file>', 'output file; .svg writes SVG, anything else PNG', 'bonsai-report.png')
    .option('--columns <n>', 'panels per row', '2')
    .option('--scale <x>', 'PNG pixels per CSS pixel', '1.5')
    .action(async (opts: ReportOptions) => {
      const columns = positive('--columns', opts.columns, true);
      const scale = positive('--scale', opts.scale, false);
      let data: ReportData;
      if (opts.prometheus !== undefined) {
        let url: URL;
        try {
          url = new URL(opts.prometheus);
        } catch (cause) {
          throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--prometheus must be a URL such as http://127.0.0.1:9090, got "${opts.prometheus}"`, { prometheus: opts.prometheus }, { cause });
        }
        data = await reportFromPrometheus({
          url: url.href,
          rangeSeconds: duration('--range', opts.range),
          stepSeconds: opts.step === undefined ? undefined : duration('--step', opts.step),
          rateIntervalSeconds: opts.rateInterval === undefined ? undefined : duration('--rate-interval', opts.rateInterval),
          job: opts.job,
          instance: opts.instance,
        });
      } else {
        const stateDir = opts.stateDir !== undefined
          ? resolve(expandHome(opts.stateDir))
          : loadConfig({ file: opts.config, env: process.env }).stateDir;
        data = await reportFromHistory(stateDir);
      }
      for (const w of data.warnings) process.stderr.write(`warning: ${w}\n`);
      const out = resolve(opts.out);
      const options = { columns, scale };
      await writeFile(out, out.endsWith('.svg') ? await renderReportSvg(data, options) : await renderReportPng(data, options));
      const filled = data.panels.filter((p) => p.series.length > 0).length;
      process.stdout.write(`wrote ${out}: ${data.panels.length} panels, ${filled} with data\n`);
    });
}
