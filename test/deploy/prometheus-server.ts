/**
 * Runs a real Prometheus (Debian's `prometheus` package; scripts/ci-prometheus.sh
 * installs it) on a loopback port with a temporary storage directory, and
 * queries its HTTP API. Tests skip with `PROMETHEUS_MISSING` when the binaries
 * are not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of a binary on PATH, or null. */
export function which(name: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/** Skip message when promtool or prometheus is missing, else false. */
export function prometheusMissing(binaries: readonly string[] = ['prometheus', 'promtool']): string | false {
  const missing = binaries.filter((b) => which(b) === null);
  return missing.length === 0 ? false : `${missing.join(' and ')} not installed: run scripts/ci-prometheus.sh (apt-get install prometheus)`;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One sample of an instant query. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Answer of /api/v1/query. */
export interface PromQueryResult {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  /** `result` is a list of samples for vector queries (the only kind these tests send). */
  data?: { resultType: string; result: PromSample[] };
}

/** One rule as /api/v1/rules lists it. */
export interface PromRule {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  type: string;
  state?: string;
}

/** A running Prometheus. */
export interface PrometheusServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  query(expr: string): Promise<PromQueryResult>;
  /** GET a path of the HTTP API and parse the JSON. */
  get<T>(path: string): Promise<T>;
  rules(): Promise<PromRule[]>;
  /** Waits until `expr` returns a sample whose value satisfies `ok`. */
  waitFor(expr: string, ok: (value: number) => boolean, timeoutMs: number): Promise<void>;
  /** Everything Prometheus logged (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** What to scrape and which rule files to load. */
export interface PrometheusArgs {
  /** `host:port` targets of job "bonsai". */
  targets: string[];
  /** Absolute paths of rule files. */
  ruleFiles?: string[];
  /** Scrape and evaluation interval; default 1s. */
  interval?: string;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts Prometheus and waits until it is ready. */
export async function startPrometheus(args: PrometheusArgs): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-prometheus-'));
  const interval = args.interval ?? '1s';
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: args.ruleFiles ?? [],
    scrape_configs: [{ job_name: 'bonsai', metrics_path: '/metrics', static_configs: [{ targets: args.targets }] }],
  };
  // JSON is YAML.
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  async function get<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as T;
  }
  async function query(expr: string): Promise<PromQueryResult> {
    return get<PromQueryResult>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  }
  const server: PrometheusServer = {
    url,
    get,
    query,
    async rules() {
      const body = await get<{ data: { groups: Array<{ rules: PromRule[] }> } }>('/api/v1/rules');
      return body.data.groups.flatMap((g) => g.rules);
    },
    async waitFor(expr, ok, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        const r = await query(expr);
        const result = r.data?.result;
        if (Array.isArray(result) && result.some((s) => ok(Number(s.value[1])))) return;
        last = JSON.stringify(r).slice(0, 300);
        await sleep(250);
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}; last answer ${last}\nprometheus log:\n${output}`);
    },
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/-/ready`);
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`prometheus not ready after 20 s:\n${output}`);
    }
    await sleep(100);
  }
}
