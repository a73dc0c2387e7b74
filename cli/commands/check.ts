/**
 * `bonsai check FILE...`: runs files through the ingestion pipeline without storing
 * them; one verdict per file. Exit 0 if all are accepted, 1 if any is rejected.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import { BonsaiError } from '../../core/errors.ts';
import { checkFile, formatVerdict } from '../../pipelines/check.ts';
import type { AudioSpec, ImageSpec } from '../../pipelines/types.ts';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('run files through the ingestion pipeline without storing them and print a verdict for each')
    .argument('<files...>', 'files to check')
    .option('--json', 'one JSON object per line')
    .option('--config <file>', 'config file (image and audio specs, limits)')
    .option('--inbox <dir>', 'treat files under this folder as inbox files (their labels are checked)')
    .option('--modality <kind>', 'image, audio, or any: the content the model reads (default: model.modality of the config file given by --config or BONSAI_CONFIG, as the daemon judges a file; any without one); any checks each file by its own content')
    .action(async (files: string[], opts: { json?: boolean; config?: string; inbox?: string; modality?: string }) => {
      const config = loadConfig({ file: opts.config, env: process.env });
      const configured = opts.config !== undefined || Boolean(process.env.BONSAI_CONFIG);
      const kind = opts.modality ?? (configured ? config.model.modality : 'any');
      if (kind !== 'image' && kind !== 'audio' && kind !== 'any') {
        throw new BonsaiError('BONSAI_CLI_BAD_OPTION', `--modality takes image, audio or any, got "${kind}"`, { modality: kind });
      }
      const model = config.model;
      const imageSpec: ImageSpec = { ...model.image, range: [model.image.range[0], model.image.range[1]] } as ImageSpec;
      const audioSpec: AudioSpec = { ...model.audio } as AudioSpec;
      let rejected = 0;
      for (const file of files) {
        const verdict = await checkFile(file, {
          imageSpec, audioSpec, limits: { ...config.ingest.limits }, labelPolicy: config.ingest.labelPolicy, modality: kind === 'any' ? undefined : kind,
          inboxRoot: opts.inbox ? resolve(opts.inbox) : undefined,
        });
        if (!verdict.ok) rejected++;
        process.stdout.write(`${opts.json ? JSON.stringify(verdict) : formatVerdict(verdict)}\n`);
      }
      process.exitCode = rejected > 0 ? 1 : 0;
    });
}
