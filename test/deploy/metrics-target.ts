/**
 * Something for Prometheus to scrape: the real daemon (`startDaemon`) on a
 * temporary state directory with the tiny model of the end-to-end tests. It
 * learns a first model from dropped images (one small update), then
 * `exercise()` keeps it busy like production: predictions (enough for the
 * drift window) and new files (ingestion, prequential scoring, more updates).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from '../../daemon/daemon.ts';
import { MemoryLog } from '../../daemon/logging.ts';
import { drop, FAST_UPDATE, predictPng, tempStateDir, testConfig, TINY_MODEL, waitFor } from '../daemon/e2e-helpers.ts';

/** A process Prometheus scrapes. */
export interface MetricsTarget {
  /** `host:port` to scrape (path /metrics). */
  address: string;
  /** Resolves once the target serves a model (after its first update). */
  ready(): Promise<void>;
  /** One tick of traffic: predictions, and now and then new files. */
  exercise(): Promise<void>;
  close(): Promise<void>;
}

/** A daemon on a fresh state directory; its first update starts at once. */
export async function startDaemonTarget(): Promise<MetricsTarget> {
  const stateDir = tempStateDir('bonsai-deploy-');
  const daemon = await startDaemon(testConfig(stateDir), { model: TINY_MODEL, update: FAST_UPDATE, log: new MemoryLog() });
  const inbox = join(stateDir, 'inbox');
  // The first update: 40 images, the initial count of the test config.
  await drop(inbox, 40, 0);
  let tick = 0;
  return {
    address: new URL(daemon.url).host,
    async ready() {
      await waitFor('the first model', () => daemon.holder.version !== null, 60_000);
    },
    async exercise() {
      tick += 1;
      for (let i = 0; i < 10; i++) await predictPng(daemon.url, i % 4, 10_000 + tick * 10 + i);
      if (tick % 4 === 0) await drop(inbox, 2, 100_000 + tick * 10);
    },
    async close() {
      await daemon.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
