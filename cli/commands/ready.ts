/**
 * `bonsai ready [--config FILE] [--state-dir DIR] [--port N] [--timeout S]`: waits until the daemon
 * that `bonsai start` with the same config, environment and flags runs is serving: `/healthz`
 * answers 200, and when a model has been promoted (`<stateDir>/models/CURRENT` exists) `/readyz`
 * too (the model is loaded and warm). Exit 0 then, 1 (`BONSAI_CLI_NOT_READY`) at the timeout.
 * The systemd unit's ExecStartPost (deploy/systemd/bonsai.service): the address comes from
 * `server.host` as the daemon reads it, so no second setting has to repeat it.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { BonsaiError } from '../../core/errors.ts';

/** Options of `bonsai ready`. */
interface ReadyOptions {
  /** `--config FILE`, as `bonsai start` takes it. */
  config?: string;
  /** `--state-dir DIR`: where `models/CURRENT` says whether to wait for `/readyz`. */
  stateDir?: string;
  /** `--port N`, as `bonsai start` takes it. */
  port?: string;
  /** `--timeout S`: seconds to wait for both endpoints together. */
  timeout?: string;
}

/** Default of `--timeout`: the unit's old wait (120 s for /healthz, 240 s for /readyz), within its TimeoutStartSec. */
const DEFAULT_TIMEOUT_S = 360;
/** Pause between two tries. */
const RETRY_MS = 500;
/** Longest wait for one answer (the event loop may be busy loading a model). */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The addresses, in order, a client on this machine reaches a server listening on `host` by:
 * loopback for the unspecified addresses (all interfaces: 0.0.0.0 -> 127.0.0.1; :: -> ::1, then
 * 127.0.0.1, since a server on :: also serves IPv4 and a host with IPv6 disabled, or a container
 * on an IPv4-only network, has no ::1), any other address or host name as it is (node:http takes
 * an IPv6 address, a zone included, without brackets).
 */
export function probeHosts(host: string): string[] {
  if (host === '0.0.0.0') return ['127.0.0.1'];
  if (isIPv6(host)) {
    let normal: string | null = null;
    try {
      normal = new URL(`http://[${host}]/`).hostname;
    } catch {
      // A zone index (fe80::1%eth0) is no URL host; it is not the unspecified address either.
    }
    if (normal === '[::]') return ['::1', '127.0.0.1'];
  }
  return [host];
}

/** The URL of `host:port` for messages: an IPv6 address in brackets. */
export function probeUrl(host: string, port: number): string {
  return `http://${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** One GET: the status code, or why there was none. */
function get(host: string, port: number, path: string, timeoutMs: number): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * Tries `path` on each of `hosts` in turn until one answers 200 or `deadline` (epoch ms) passes:
 * the host that answered, or the last outcome (with its host) when none did.
 */
async function waitFor(hosts: string[], port: number, path: string, deadline: number): Promise<{ host: string } | { last: string }> {
  for (;;) {
    const outcomes: string[] = [];
    for (const [i, host] of hosts.entries()) {
      // The time left is shared among the addresses still to try: one that hangs does not starve the next.
      const share = (deadline - Date.now()) / (hosts.length - i);
      const outcome = await get(host, port, path, Math.max(1, Math.round(Math.min(REQUEST_TIMEOUT_MS / hosts.length, share))));
      if ('status' in outcome && outcome.status === 200) return { host };
      outcomes.push(`${hosts.length > 1 ? `${host}: ` : ''}${'status' in outcome ? `answered ${outcome.status}` : outcome.error}`);
    }
    if (Date.now() + RETRY_MS >= deadline) return { last: outcomes.join('; ') };
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}

/** Registers `bonsai ready`. */
export function registerReady(program: Command): Command {
  return program
    .command('ready')
    .description('wait until the daemon of this config serves: /healthz, and /readyz once a model has been promoted (the systemd unit\'s readiness check)')
    .option('--config <file>', 'config file, as bonsai start takes it (default: $BONSAI_CONFIG)')
    .option('--state-dir <dir>', 'state directory, as bonsai start takes it')
    .option('--port <n>', 'HTTP port, as bonsai start takes it')
    .option('--timeout <seconds>', `give up after this many seconds (default ${DEFAULT_TIMEOUT_S})`)
    .action(async (opts: ReadyOptions) => {
      const timeoutS = Number(opts.timeout ?? DEFAULT_TIMEOUT_S);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
        throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--timeout takes a positive number of seconds, got "${opts.timeout}"`, { timeout: opts.timeout });
      }
      // The same layers as bonsai start: defaults < file < BONSAI_* < flags.
      const config = loadConfig({ flags: { config: opts.config, stateDir: opts.stateDir, port: opts.port }, env: process.env });
      const { host, port } = config.server;
      if (port === 0) {
        throw new BonsaiError('BONSAI_CLI_BAD_OPTION', 'server.port is 0 (any free port): the port the daemon got cannot be known from the config; set a port', { port });
      }
      let targets = probeHosts(host);
      const deadline = Date.now() + timeoutS * 1000;
      const paths = ['/healthz'];
      // /readyz is asked once /healthz answers, as before: a model promoted by then is loaded at this start.
      for (const path of paths) {
        const outcome = await waitFor(targets, port, path, deadline);
        if ('last' in outcome) {
          const url = targets.map((t) => probeUrl(t, port)).join(' or ');
          throw new BonsaiError('BONSAI_CLI_NOT_READY', `bonsai at ${url} (server.host ${host}) did not answer ${path} with 200 within ${timeoutS} s; last: ${outcome.last}`,
            { url, host, port, path, timeoutS, last: outcome.last });
        }
        targets = [outcome.host];
        if (path === '/healthz' && existsSync(join(config.stateDir, 'models', 'CURRENT'))) paths.push('/readyz');
      }
      process.stdout.write(`bonsai serves at ${probeUrl(targets[0], port)} (${paths.join(', ')}: 200)\n`);
    });
}
