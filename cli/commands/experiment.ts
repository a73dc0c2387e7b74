/**
 * `bonsai experiment mnist|fsdd --model ... --profile smoke|quick|paper --out DIR`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BonsaiError } from '../../core/errors.ts';
import { runMnistExperiment, type Profile } from '../../experiments/mnist.ts';
import type { UpdateConfig } from '../../core/index.ts';

const PROFILES = ['smoke', 'quick', 'paper'];

/** Options of one dataset's experiment, with their flags and what they are for: the other dataset's would ignore them. */
const DATASET_OPTIONS = {
  holdOutSpeaker: { flag: '--hold-out-speaker', dataset: 'fsdd', what: 'keeps one of FSDD\'s speakers out of training' },
  pruneScope: { flag: '--prune-scope', dataset: 'mnist', what: 'sets pruning\'s percentile of the MNIST experiment' },
  referenceDraws: { flag: '--reference-draws', dataset: 'mnist', what: 'sets pruning\'s reference draws of the MNIST experiment' },
  only: { flag: '--only', dataset: 'mnist', what: 'reruns a part of the MNIST experiment' },
} as const;

/** Refuses an option of the other dataset's experiment (BONSAI_CLI_BAD_OPTION, exit 2), which would be ignored without a word. */
function checkDatasetOptions(dataset: string, opts: Partial<Record<keyof typeof DATASET_OPTIONS, string>> & { model?: string }): void {
  if (dataset !== 'mnist' && dataset !== 'fsdd') return; // an unknown dataset is said below
  for (const [key, { flag, dataset: owner, what }] of Object.entries(DATASET_OPTIONS)) {
    const value = opts[key as keyof typeof DATASET_OPTIONS];
    if (value === undefined || owner === dataset) continue;
    throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `${flag} is an option of ${owner} experiments only (it ${what}); ${dataset} would ignore it, got ${flag} ${JSON.stringify(value)}`,
      { option: flag, value, dataset });
  }
  // The fsdd experiment trains DeepSpeech2 and nothing else (--model only named its output folder).
  if (dataset === 'fsdd' && opts.model !== undefined && opts.model !== 'ds2') {
    throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `fsdd experiments take --model ds2, got "${opts.model}"`, { model: opts.model, dataset });
  }
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .description('run an incremental-learning experiment (TFS, NFT and grow-and-prune side by side) and write results.json, results.md and plots')
    .argument('<dataset>', 'mnist or fsdd')
    .option('--model <name>', 'lenet300 | lenet5 (mnist), ds2 (fsdd)')
    .option('--profile <name>', 'smoke | quick | paper', 'smoke')
    .option('--out <dir>', 'output folder (default bench/results/<dataset>-<model>-<profile>)')
    .option('--seed <n>', 'seed of splits, initial values and shuffles', '1')
    .option('--hold-out-speaker <name>', 'fsdd: keep this speaker out of training entirely')
    .option('--prune-scope <scope>', 'mnist: pruning\'s percentile per kernel (layer) or one over all kernels (global, the profiles\' default)')
    .option('--reference-draws <n>', 'mnist: draws of pruning\'s reference, 1 to 4 (default 1; docs/pruning.md)')
    .option('--only <part>', 'mnist: run only Fig. 4 (fig4), only the growth-budget ablation (budget), or only redraw results.md and the plots (plots), merged into the existing results.json')
    .action(async (dataset: string, opts: { model?: string; profile: string; out?: string; seed: string; holdOutSpeaker?: string; only?: string; pruneScope?: string; referenceDraws?: string }) => {
      checkDatasetOptions(dataset, opts);
      if (!PROFILES.includes(opts.profile)) {
        throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--profile must be one of ${PROFILES.join(', ')}, got "${opts.profile}"`, { profile: opts.profile });
      }
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--seed must be an integer, got "${opts.seed}"`, { seed: opts.seed });
      const profile = opts.profile as Profile;
      if (dataset === 'mnist') {
        const model = opts.model ?? 'lenet300';
        if (model !== 'lenet300' && model !== 'lenet5') {
          throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `mnist experiments take --model lenet300 or lenet5, got "${model}"`, { model });
        }
        const out = resolve(opts.out ?? `bench/results/mnist-${model}-${profile}`);
        if (opts.only !== undefined && opts.only !== 'fig4' && opts.only !== 'plots' && opts.only !== 'budget') {
          throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--only takes fig4, budget or plots, got "${opts.only}"`, { only: opts.only });
        }
        const scope = opts.pruneScope;
        if (scope !== undefined && scope !== 'layer' && scope !== 'global') {
          throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--prune-scope takes layer or global, got "${scope}"`, { pruneScope: scope });
        }
        const draws = opts.referenceDraws === undefined ? undefined : Number(opts.referenceDraws);
        if (draws !== undefined && !(Number.isInteger(draws) && draws >= 1 && draws <= 4)) {
          throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--reference-draws takes an integer from 1 to 4, got "${opts.referenceDraws}"`, { referenceDraws: opts.referenceDraws });
        }
        const command = `bonsai experiment mnist --model ${model} --profile ${profile}${opts.out ? ` --out ${opts.out}` : ''}${seed !== 1 ? ` --seed ${seed}` : ''}${scope ? ` --prune-scope ${scope}` : ''}${draws !== undefined ? ` --reference-draws ${draws}` : ''}${opts.only ? ` --only ${opts.only}` : ''}`;
        const update: Partial<UpdateConfig> = { ...(scope && { pruneScope: scope }), ...(draws !== undefined && { referenceDraws: draws }) };
        const results = await runMnistExperiment({
          model, profile, out, seed, command, only: opts.only as 'fig4' | 'plots' | 'budget' | undefined, ...(Object.keys(update).length > 0 && { overrides: { update } }),
        });
        process.stdout.write(`results written to ${out} (${results.rounds.length} rows)\n`);
        return;
      }
      if (dataset === 'fsdd') {
        const modulePath = '../../experiments/fsdd.ts';
        const mod = (await import(modulePath)) as { runFsddExperiment?: (o: Record<string, unknown>) => Promise<unknown> };
        if (!mod.runFsddExperiment) throw new BonsaiError('BONSAI_CLI_UNAVAILABLE', 'the fsdd experiment is not available in this build', {});
        const out = resolve(opts.out ?? `bench/results/fsdd-${opts.model ?? 'ds2'}-${profile}`);
        await mod.runFsddExperiment({ profile, out, seed, holdOutSpeaker: opts.holdOutSpeaker });
        process.stdout.write(`results written to ${out}\n`);
        return;
      }
      throw new BonsaiError('BONSAI_CLI_BAD_ARGUMENT', `unknown dataset "${dataset}"; use mnist or fsdd`, { dataset });
    });
}
