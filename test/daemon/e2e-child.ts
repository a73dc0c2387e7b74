/**
 * A daemon in its own process, for tests that kill it: `node --import tsx
 * test/daemon/e2e-child.ts '<config JSON>'`. Prints `READY <url>` once serving,
 * logs JSON lines to stderr, stops on SIGTERM (a second signal exits at once).
 */
import { parseConfig } from '../../config/index.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { createLog } from '../../daemon/logging.ts';
import { FAST_UPDATE, TINY_MODEL } from './e2e-helpers.ts';

const config = parseConfig(JSON.parse(process.argv[2] ?? '{}'));
const daemon = await startDaemon(config, { model: TINY_MODEL, update: FAST_UPDATE, signals: true, log: createLog({ level: 'info', format: 'json', stream: process.stderr }) });
process.stdout.write(`READY ${daemon.url}\n`);
await daemon.stopped;
process.exit(0);
