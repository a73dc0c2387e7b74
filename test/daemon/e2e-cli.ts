/**
 * `bonsai start` as a program of its own (cli/main.ts wires the same
 * command): `node --import tsx test/daemon/e2e-cli.ts start --config F ...`.
 */
import { Command } from 'commander';
import { registerStart } from '../../cli/commands/start.ts';

const program = new Command();
program.name('bonsai');
registerStart(program);
await program.parseAsync(process.argv);
