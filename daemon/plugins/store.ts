/**
 * The store plugin: opens the sample store (`<stateDir>/store.db`) for writing,
 * finishes the file moves a crash interrupted (pipelines/ingest/recover.ts) and
 * adds the store and its gauges to the context. Its stop closes the store.
 */
import { recover, stateLayout, type RecoveryReport } from '../../pipelines/ingest/index.ts';
import { openStore, type SampleStore } from '../../pipelines/store/index.ts';
import type { BonsaiMetrics } from '../metrics/index.ts';
import type { Log } from '../logging.ts';
import type { StuckEntries } from '../stuck.ts';
import type { DaemonPlugin } from './context.ts';

/** `bonsai_pending_samples` and `bonsai_store_samples{split}`, read from the store's counts. */
export class StoreGauges {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: SampleStore, private readonly metrics: BonsaiMetrics) {}

  /** Sets the gauges now. */
  refresh(): void {
    const c = this.store.counts();
    this.metrics.pendingSamples.set(c.pending);
    for (const [split, n] of Object.entries(c.bySplit)) this.metrics.storeSamples.set({ split }, n);
  }

  /** Sets them within 200 ms, once for any number of calls meanwhile (ingestion calls it per file). */
  refreshSoon(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (this.store.isOpen) this.refresh();
    }, 200);
  }

  /** Cancels a pending refresh. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Logs what the start-up recovery repaired, when it repaired anything. */
function logRecovery(log: Log, report: RecoveryReport): void {
  const repaired = {
    archived: report.archived.length,
    rejectsCompleted: report.rejectsCompleted.length,
    reasonsWritten: report.reasonsWritten.length,
    orphanReasonsRemoved: report.orphanReasonsRemoved.length,
    tempFilesRemoved: report.tempFilesRemoved.length,
  };
  if (Object.values(repaired).some((n) => n > 0)) log.info('store.recovered', repaired);
}

/** Opens the store and recovers; entries recovery could not finish go to `stuck` and the daemon starts anyway. */
export function storePlugin(stuck: StuckEntries): DaemonPlugin {
  return {
    name: 'store',
    async start(ctx) {
      const s = ctx.config.ingest.splits;
      const store = openStore(stateLayout(ctx.stateDir).store, { splitRatios: { train: 1 - s.validation - s.test, validation: s.validation, test: s.test } });
      const report = recover(ctx.stateDir, store);
      logRecovery(ctx.log, report);
      for (const entry of report.stuck) stuck.report(entry.source, entry.code, entry.message);
      const gauges = new StoreGauges(store, ctx.metrics);
      gauges.refresh();
      ctx.add('store', store);
      ctx.add('gauges', gauges);
      return async () => {
        gauges.stop();
        store.close();
      };
    },
  };
}
