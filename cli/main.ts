/**
 * The `bonsai` command. Usage errors exit 2; coded errors print `CODE: message`
 * and exit 1.
 */
import { Command, CommanderError } from 'commander';
import { BonsaiError } from '../core/errors.ts';
import { registerCheck } from './commands/check.ts';
import { registerExperiment } from './commands/experiment.ts';
import { registerStart } from './commands/start.ts';
import { registerReport } from './commands/report.ts';
import { registerDemo } from './commands/demo.ts';
import { registerClient } from './commands/client.ts';

const program = new Command();
program.name('bonsai').description('a continual-learning daemon: grow-and-prune updates of a served model as labelled data arrives').version('0.1.0');
program.exitOverride();
registerStart(program);
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
