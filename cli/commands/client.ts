/**
 * The HTTP client commands: `bonsai predict FILE`, `bonsai status`,
 * `bonsai models list|promote V|rollback`, `bonsai update`. They talk to a running
 * daemon (`--server`, default `$BONSAI_SERVER` or http://127.0.0.1:8080); mutating ones
 * and `status` send the bearer token from `--token-file` or `$BONSAI_TOKEN`. `bonsai models promote V
 * --offline` works on the state directory instead, while no daemon runs (./offline.ts).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { BonsaiError } from '../../core/errors.ts';
import { expandHome, loadConfig } from '../../config/index.ts';
import { promoteOffline } from './offline.ts';

interface ClientOptions {
  server?: string;
  tokenFile?: string;
}

/** Options of `bonsai models promote`. */
interface PromoteOptions extends ClientOptions {
  offline?: boolean;
  stateDir?: string;
  config?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.tif': 'image/tiff', '.tiff': 'image/tiff', '.avif': 'image/avif', '.wav': 'audio/wav', '.json': 'application/json',
};

function serverUrl(opts: ClientOptions): string {
  const raw = opts.server ?? process.env.BONSAI_SERVER ?? 'http://127.0.0.1:8080';
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    // Said below, with the value.
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `the server must be an http:// or https:// URL, got ${JSON.stringify(raw)}${opts.server === undefined ? ' (from $BONSAI_SERVER)' : ''}`, { server: raw });
  }
  return raw.replace(/\/+$/, '');
}

/** Reads a file named on the command line; a missing or unreadable one is a coded error with the path, not a stack trace. */
async function readArgFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    const why = errno === 'ENOENT' ? 'no such file' : errno === 'EISDIR' ? 'it is a directory' : errno === 'EACCES' ? 'permission denied' : (cause as Error).message;
    throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `cannot read the ${what} ${JSON.stringify(path)}: ${why}`, { path, errno }, { cause });
  }
}

async function token(opts: ClientOptions): Promise<string | undefined> {
  if (opts.tokenFile) return (await readArgFile(expandHome(opts.tokenFile), 'token file')).toString('utf8').trim();
  return process.env.BONSAI_TOKEN || undefined;
}

/** Sends a request and prints the JSON answer; a non-2xx answer becomes a coded error with the server's code. */
async function call(opts: ClientOptions, method: string, path: string, body?: Buffer, contentType?: string, auth = false): Promise<unknown> {
  const url = `${serverUrl(opts)}${path}`;
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  const bearer = auth ? await token(opts) : undefined;
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body });
  } catch (cause) {
    throw new BonsaiError('BONSAI_CLI_SERVER_UNREACHABLE', `cannot reach the bonsai server at ${url}: ${(cause as Error).message}`, { url }, { cause });
  }
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: printed as text.
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } }).error;
    throw new BonsaiError('BONSAI_CLI_SERVER_ERROR', `${method} ${path} answered ${res.status}: ${err?.code ?? ''} ${err?.message ?? text}`.trim(), { status: res.status, serverCode: err?.code });
  }
  return json;
}

function print(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}

function withServer(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'daemon URL (default $BONSAI_SERVER or http://127.0.0.1:8080)')
    .option('--token-file <file>', 'file with the bearer token of mutating routes (default $BONSAI_TOKEN)');
}

export function registerClient(program: Command): void {
  withServer(program.command('predict').description('send a file (image, WAV or JSON tensor) to a running daemon and print the answer').argument('<file>'))
    .action(async (file: string, opts: ClientOptions) => {
      const type = CONTENT_TYPES[extname(file).toLowerCase()];
      if (!type) throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `cannot tell the content type of "${file}" from its extension; use one of ${Object.keys(CONTENT_TYPES).join(', ')}`, { file });
      print(await call(opts, 'POST', '/v1/predict', await readArgFile(file, 'file'), type));
    });
  // With the token (when there is one) the status names the state directory and whole paths.
  withServer(program.command('status').description('print the status of a running daemon')).action(async (opts: ClientOptions) => print(await call(opts, 'GET', '/v1/status', undefined, undefined, true)));
  withServer(program.command('update').description('start an update on a running daemon now')).action(async (opts: ClientOptions) => print(await call(opts, 'POST', '/v1/updates', Buffer.from('{}'), 'application/json', true)));
  const models = program.command('models').description('list, promote or roll back model versions of a running daemon');
  withServer(models.command('list').description('list the versions and the champion')).action(async (opts: ClientOptions) => print(await call(opts, 'GET', '/v1/models')));
  withServer(models.command('promote').description('promote a version (needs the token; with --offline, on the state directory while no daemon runs)').argument('<version>'))
    .option('--offline', 'promote on the state directory itself, without a running daemon (takes the state lock)')
    .option('--state-dir <dir>', 'with --offline: the state directory (default: the config\'s stateDir)')
    .option('--config <file>', 'with --offline: config file giving the state directory (default: $BONSAI_CONFIG)')
    .action(async (version: string, opts: PromoteOptions) => {
      if (!/^[1-9][0-9]*$/.test(version)) throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `a version is a positive integer, got "${version}"`, { version });
      if (opts.offline) {
        // `--state-dir=~/x` reaches here unexpanded, as in the config (config/load.ts).
        const [stateDir, from] = opts.stateDir !== undefined
          ? [expandHome(opts.stateDir), '--state-dir']
          : [loadConfig({ flags: { config: opts.config }, env: process.env }).stateDir, 'the config\'s stateDir'];
        print(await promoteOffline(stateDir, Number(version), from));
        return;
      }
      print(await call(opts, 'POST', `/v1/models/${version}/promote`, Buffer.from('{}'), 'application/json', true));
    });
  withServer(models.command('rollback').description('go back to the previous champion (needs the token)'))
    .action(async (opts: ClientOptions) => print(await call(opts, 'POST', '/v1/rollback', Buffer.from('{}'), 'application/json', true)));
}
