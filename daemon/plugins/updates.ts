/**
 * The updates plugin: the `Updater` (trainer child process, gate, publish,
 * swap: daemon/trainer) and the `UpdateScheduler` that starts it
 * (daemon/triggers). Its stop stops starting updates, kills a training child
 * and finishes a gate or swap in progress.
 */
import type { UpdateConfig } from '../../core/index.ts';
import { Updater, type ModelChoice, type TrainerHandle, type TrainerOptions } from '../trainer/index.ts';
import { UpdateScheduler, type TriggerCounts } from '../triggers/index.ts';
import type { SampleStore } from '../../pipelines/store/index.ts';
import type { StorageHealth } from '../storage.ts';
import { taskKindOf } from '../speech.ts';
import { preprocessingOf } from '../wiring.ts';
import type { DaemonPlugin } from './context.ts';

/** Options of `updatesPlugin`: what the daemon trains, and how the trainer runs. */
export interface UpdatesPluginOptions {
  /** The network of the first model (later ones grow from the champion). */
  model: ModelChoice;
  /** Grow-and-prune settings. */
  update: UpdateConfig;
  /** Starts the trainer; default the child process. */
  startTrainer?: (options: TrainerOptions) => TrainerHandle;
  /** Niceness of the trainer child. */
  nice?: number;
  /** Reports a full disk once per episode. */
  storage?: StorageHealth;
}

/** What the triggers read from the store. */
function triggerCounts(store: SampleStore): TriggerCounts {
  const c = store.counts();
  return { pending: c.pending, total: c.total, oldestPendingAt: store.oldestPendingAt(), validation: c.bySplit.validation, classes: Object.keys(c.byLabel).length };
}

/** Adds the updater (`updater`) and the scheduler (`scheduler`), and starts the scheduler. */
export function updatesPlugin(options: UpdatesPluginOptions): DaemonPlugin {
  return {
    name: 'updates',
    async start(ctx) {
      const { config, log, metrics, stateDir } = ctx;
      const [store, holder, gauges] = [ctx.get('store'), ctx.get('holder'), ctx.get('gauges')];
      const updater = new Updater({
        store, registry: ctx.get('registry'), holder, metrics, prequential: ctx.get('prequential'), log,
        job: {
          stateDir, model: options.model, modality: config.model.modality, preprocessing: preprocessingOf(config), update: options.update,
          backend: { name: config.backend.name, threads: config.backend.threads }, driftBins: config.metrics.driftBins,
          dataBudgetBytes: config.algorithm.trainingDataMegabytes === null ? null : Math.floor(config.algorithm.trainingDataMegabytes * 2 ** 20),
        },
        tolerance: config.gate.tolerance,
        margin: config.gate.margin,
        keep: config.registry.keep,
        startTrainer: options.startTrainer,
        nice: options.nice,
        storage: options.storage,
      });
      const scheduler = new UpdateScheduler({
        policy: { ...config.triggers, minValidationSamples: config.gate.minValidationSamples, minClasses: taskKindOf(options.model.arch) === 'speech' ? 0 : 2 },
        counts: () => triggerCounts(store),
        hasChampion: () => holder.version !== null,
        run: (request) => updater.run(request),
        log,
      });
      updater.events.on('finished', () => {
        gauges.refresh();
        scheduler.notify();
      });
      ctx.add('updater', updater);
      ctx.add('scheduler', scheduler);
      await scheduler.start();
      return async (reason) => {
        const stopping = scheduler.stop();
        await updater.stop(reason);
        await stopping;
      };
    },
  };
}
