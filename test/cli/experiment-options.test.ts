/** `bonsai experiment`: an option of the other dataset's experiment is refused, not ignored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { BonsaiError } from '../../core/errors.ts';
import { registerExperiment } from '../../cli/commands/experiment.ts';

/** Runs `bonsai experiment ...args` in this process; resolves to the error it threw (null when none). */
async function experiment(...args: string[]): Promise<unknown> {
  const program = new Command().exitOverride();
  registerExperiment(program);
  try {
    await program.parseAsync(['node', 'bonsai', 'experiment', ...args]);
    return null;
  } catch (err) {
    return err;
  }
}

test('an option of the other dataset\'s experiment is BONSAI_CLI_BAD_OPTION with the option and its value, before anything runs', async () => {
  const cases: Array<[string[], string]> = [
    // The audit's case: before, mnist ran without a word about the speaker.
    [['mnist', '--hold-out-speaker', 'theo'], '--hold-out-speaker is an option of fsdd experiments only (it keeps one of FSDD\'s speakers out of training); mnist would ignore it, got --hold-out-speaker "theo"'],
    [['mnist', '--profile', 'quick', '--model', 'lenet5', '--hold-out-speaker', 'jackson'], 'mnist would ignore it, got --hold-out-speaker "jackson"'],
    [['fsdd', '--prune-scope', 'layer'], '--prune-scope is an option of mnist experiments only'],
    [['fsdd', '--reference-draws', '2'], '--reference-draws is an option of mnist experiments only'],
    [['fsdd', '--only', 'fig4'], '--only is an option of mnist experiments only'],
    [['fsdd', '--model', 'lenet5'], 'fsdd experiments take --model ds2, got "lenet5"'],
  ];
  // Where the old code ran the experiment anyway, it writes to a temp folder and stops early: mnist's
  // --only plots finds no results.json there, fsdd finds no recordings in an empty corpus folder.
  const dir = mkdtempSync(join(tmpdir(), 'bonsai-experiment-options-'));
  const corpus = process.env.BONSAI_FSDD_DIR;
  process.env.BONSAI_FSDD_DIR = dir;
  try {
    for (const [args, message] of cases) {
      const err = await experiment(...args, '--out', join(dir, 'out'), ...(args[0] === 'mnist' ? ['--only', 'plots'] : []));
      assert.ok(err instanceof BonsaiError, `${args.join(' ')}: ${String(err)}`);
      assert.equal(err.code, 'BONSAI_CLI_BAD_OPTION', err.message);
      assert.ok(err.message.includes(message), `${args.join(' ')}: ${err.message}`);
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing ran');
  } finally {
    if (corpus === undefined) delete process.env.BONSAI_FSDD_DIR;
    else process.env.BONSAI_FSDD_DIR = corpus;
    rmSync(dir, { recursive: true, force: true });
  }
  // Still said first: an unknown dataset, and a bad value of an option the dataset takes.
  assert.match(String((await experiment('cifar', '--hold-out-speaker', 'theo') as Error).message), /unknown dataset "cifar"/);
  assert.match(String((await experiment('mnist', '--prune-scope', 'all') as Error).message), /--prune-scope takes layer or global, got "all"/);
});
