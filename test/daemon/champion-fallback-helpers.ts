/** Fixtures of the champion fallback tests: a registry of tiny real models, a corrupted artifact, a trainer that only records its job. */
import { openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../core/backend.ts';
import { BonsaiError } from '../../core/errors.ts';
import { createModel } from '../../core/models/index.ts';
import { saveModel } from '../../core/serialize/index.ts';
import { openRegistry, type ModelRegistry } from '../../daemon/registry/index.ts';
import type { TrainerHandle, TrainerOptions, TrainJob } from '../../daemon/trainer/index.ts';
import { input } from './registry-helpers.ts';
import { LABELS, SIDE } from './e2e-helpers.ts';

/** Publishes and promotes `count` tiny MLPs (versions 1..count) in `<stateDir>/models`; the last is the champion. */
export async function championsOf(stateDir: string, count: number): Promise<ModelRegistry> {
  await initBackend({ force: 'cpu' });
  const registry = await openRegistry(join(stateDir, 'models'));
  for (let i = 1; i <= count; i++) {
    const model = createModel({ arch: 'mlp', inputShape: [SIDE, SIDE, 1], numClasses: LABELS.length, options: { hidden: '8' }, seed: i });
    try {
      const version = await registry.publish((dir) => saveModel(model, dir, { parent: i > 1 ? i - 1 : null, labels: LABELS }).then(() => undefined), input());
      await registry.promote(version, `champion ${i}`);
    } finally {
      model.dispose();
    }
  }
  return registry;
}

/** Flips 8 bytes in the middle of `models/<version>/weights.bin` (same size, other content). */
export function corruptWeights(stateDir: string, version: number): void {
  const path = join(stateDir, 'models', String(version), 'weights.bin');
  const fd = openSync(path, 'r+');
  try {
    const bytes = Buffer.alloc(8);
    readSync(fd, bytes, 0, 8, 64);
    for (let i = 0; i < 8; i++) bytes[i] ^= 0xff;
    writeSync(fd, bytes, 0, 8, 64);
  } finally {
    closeSync(fd);
  }
}

/** A trainer that records the jobs it is given and fails them at once (no training). */
export function recordingTrainer(jobs: TrainJob[]): (options: TrainerOptions) => TrainerHandle {
  return (options) => {
    jobs.push(options.job);
    return { pid: undefined, result: Promise.reject(new BonsaiError('BONSAI_DAEMON_TRAINER_FAILED', 'this test trains nothing')), kill: () => undefined };
  };
}
