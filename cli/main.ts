/**
 * The `bonsai` command. Usage errors exit 2; coded errors print `CODE: message`
 * and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { BonsaiError } from '../core/errors.ts';
import { registerCheck } from './commands/check.ts';
import { registerExperiment } from './commands/experiment.ts';
import { registerStart } from './commands/start.ts';
import { registerReady } from './commands/ready.ts';
import { registerReport } from './commands/report.ts';
import { registerDemo } from './commands/demo.ts';
import { registerClient } from './commands/client.ts';

/**
 * The last resort for an error nothing caught (a bug): its code, message and stack on stderr, then
 * exit 1, so that a supervisor restarts the daemon (lock files are released on exit; the kernel
 * drops the rest). Put first: the wasm backend's own handlers rethrow, and node then prints the
 * source line the error came through, which for the wasm module is its whole minified source
 * (about 30 KB in the log).
 */
function fatal(kind: string): (err: unknown) => void {
  const fatalCode = 'BONSAI_DAEMON_FATAL';
  return (err) => {
    const code = err instanceof BonsaiError ? ` (${err.code})` : '';
    process.stderr.write(`${fatalCode}: ${kind}${code}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  };
}
process.prependListener('uncaughtException', fatal('uncaught exception'));
process.prependListener('unhandledRejection', fatal('unhandled promise rejection'));

const program = new Command();
program.name('bonsai').description('a continual-learning daemon: grow-and-prune updates of a served model as labelled data arrives').version('0.1.0');
program.exitOverride();
registerStart(program);
registerReady(program);
registerDemo(program);
registerExperiment(program);
registerCheck(program);
registerReport(program);
registerClient(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof BonsaiError) {
    process.stderr.write(`${err.code}: ${err.message}\n`);
    const usage = err.code === 'BONSAI_CLI_BAD_OPTION' || err.code === 'BONSAI_CLI_BAD_ARGUMENT' || err.code.startsWith('BONSAI_CONFIG_');
    process.exitCode = usage ? 2 : 1;
  } else {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
