/**
 * `bonsai start [--config FILE] [--state-dir DIR] [--port N] [--model NAME] [--update-threshold N]
 *   [--role all|trainer|server] [--trainer-url URL]`:
 * runs the daemon in the foreground until SIGTERM or SIGINT (a graceful stop:
 * stop watching, stop the update, drain HTTP, close the store; a second signal
 * exits at once with status 130), or SIGHUP (the same stop, then status 129, so
 * that a supervisor restarts it with the config as it is now). Flags override the config file, which
 * overrides the environment's `BONSAI_*` variables only where DESIGN.md says:
 * defaults < file < env < flags.
 */
import type { Command } from 'commander';
import { MODEL_NAMES, loadConfig, type StartFlags } from '../../config/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import { startDaemon } from '../../daemon/daemon.ts';
import { startServing } from '../../daemon/serving-only.ts';

/** Registers `bonsai start`. */
export function registerStart(program: Command): Command {
  return program
    .command('start')
    .description('run the daemon: watch the inbox, store what arrives, update the model by grow-and-prune, serve predictions')
    .option('--config <file>', 'config file, YAML or JSON (default: $BONSAI_CONFIG)')
    .option('--state-dir <dir>', 'state directory: inbox/, archive/, quarantine/, store.db, models/ (default ./var)')
    .option('--port <n>', 'HTTP port of the API and /metrics (default 8080)')
    .option('--model <name>', `network: ${MODEL_NAMES.slice(0, -1).join(', ')} or ${MODEL_NAMES[MODEL_NAMES.length - 1]}`)
    .option('--update-threshold <n>', 'start an update at this many new samples (default: 10% of the samples learned)')
    .option('--role <role>', 'all (ingest, train and serve), trainer, or server (only serve, following the trainer) (default all)')
    .option('--trainer-url <url>', 'role server: the trainer to follow over HTTP and forward updates, promotions and rollbacks to')
    .action(async (flags: StartFlags) => {
      const config = loadConfig({ flags, env: process.env });
      // role server only serves a trainer's registry; all and trainer ingest, train and serve.
      let daemon;
      try {
        daemon = config.role === 'server' ? await startServing(config, { signals: true }) : await startDaemon(config, { signals: true });
      } catch (err) {
        // A signal during the start: its parts are stopped, and bonsai exits as a stop while running does.
        if (err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_STOPPED_WHILE_STARTING') process.exit(process.exitCode ?? 0);
        throw err;
      }
      await daemon.stopped;
      // Exit explicitly: compute backends may keep worker threads alive after a clean stop.
      process.exit(process.exitCode ?? 0);
    });
}
