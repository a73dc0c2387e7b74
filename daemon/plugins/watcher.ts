/**
 * The watcher plugin: watches `inbox/` (daemon/watch) and hands each complete
 * file to ingestion (pipelines/ingest: read, hash, label, decode, commit, move).
 * Each outcome is counted and logged, an accepted sample is queued for
 * prequential scoring, and the triggers are told. Its stop stops watching and
 * waits for the files being ingested.
 */
import { relative } from 'node:path';
import type { Config } from '../../config/index.ts';
import { processAudio } from '../../pipelines/audio/index.ts';
import { processImage } from '../../pipelines/image/index.ts';
import { Ingestor, processorByContent, stateLayout, type IngestContext, type IngestOutcome } from '../../pipelines/ingest/index.ts';
import { LabelErrorCode, ManifestCache, resolveLabel } from '../../pipelines/labels/index.ts';
import type { SampleStore } from '../../pipelines/store/index.ts';
import { InboxWatcher } from '../watch/index.ts';
import type { StuckEntries } from '../stuck.ts';
import type { StorageHealth } from '../storage.ts';
import { BonsaiError } from '../../core/errors.ts';
import { audioSpec, imageSpec, limitsOf } from '../wiring.ts';
import type { DaemonContext, DaemonPlugin } from './context.ts';

/** Options of `watcherPlugin`. */
export interface WatcherPluginOptions {
  /** Entries that can be neither ingested nor moved: logged and counted once each. */
  stuck: StuckEntries;
  /** A full disk: reported once per episode, the files wait in the inbox meanwhile. */
  storage: StorageHealth;
  /** Shape of one image sample (`[h, w, c]`), so images are decoded to what the model reads. */
  inputShape: readonly number[];
}

/**
 * The most classes the store may hold (`ingest.maxClasses`). Every folder name in the inbox can be a
 * class, and every class widens the output layer and adds a value to each per-class metric: without
 * a bound, files dropped into thousands of folders would grow the model and the metrics without end.
 * Labels admitted but not yet committed count too, so a burst of new folders cannot overshoot.
 */
class ClassLimit {
  private readonly admitted = new Set<string>();

  constructor(private readonly store: SampleStore, private readonly max: number, private readonly onSimilar?: (fields: SimilarLabel) => void) {}

  /**
   * Throws BONSAI_INGEST_LABEL_LIMIT for a label that would be one class too many. A new class
   * whose name differs from a known one only in case or in `-` against `_` (`Cat/` beside `cat/`)
   * is admitted as its own class, since such labels can be distinct (handwritten `a` and `A`),
   * and reported once to `onSimilar`: usually it is a typo that splits one class in two.
   */
  admit(label: string): void {
    if (this.admitted.has(label)) return;
    const known = new Set(this.store.labels().map((l) => l.label));
    for (const a of this.admitted) known.add(a);
    if (!known.has(label) && known.size >= this.max) {
      throw new BonsaiError(LabelErrorCode.LIMIT, `the label ${JSON.stringify(label)} would be class ${known.size + 1}, more than ingest.maxClasses (${this.max}); raise it or drop the file under a known label`, { label, classes: known.size, maxClasses: this.max });
    }
    this.admitted.add(label);
    if (known.has(label) || !this.onSimilar) return;
    const key = similarityKey(label);
    const similar = [...known].filter((k) => similarityKey(k) === key).sort();
    if (similar.length > 0) this.onSimilar({ label, similar, reason: `the new class ${JSON.stringify(label)} differs from ${similar.map((s) => JSON.stringify(s)).join(', ')} only in case or in - against _; both are classes of their own (move the files to one folder to merge them)` });
  }
}

/** A new class label beside known ones of the same name up to case and `-`/`_`. */
export interface SimilarLabel {
  label: string;
  similar: string[];
  reason: string;
}

/** Labels equal under this key read as the same name: case and `-` against `_` ignored. */
function similarityKey(label: string): string {
  return label.toLowerCase().replaceAll('-', '_');
}

/** How ingestion decodes and labels files of the config's modality, into `store`. */
export function ingestContext(config: Config, stateDir: string, store: SampleStore, inputShape: readonly number[], onSimilarLabel?: (fields: SimilarLabel) => void): IngestContext {
  const limits = limitsOf(config);
  const modality = config.model.modality;
  const inbox = stateLayout(stateDir).inbox;
  const manifests = new ManifestCache();
  const classLimit = new ClassLimit(store, config.ingest.maxClasses, onSimilarLabel);
  return {
    stateDir,
    store,
    modality,
    maxFileBytes: limits.maxFileBytes,
    process: processorByContent({
      image: (bytes) => processImage(bytes, imageSpec(config, modality === 'image' ? inputShape : undefined), limits),
      audio: (bytes) => processAudio(bytes, audioSpec(config), limits),
    }),
    resolveLabel: async (file) => {
      const known = config.ingest.labelPolicy === 'reject' ? store.labels().map((l) => l.label) : [];
      const r = await resolveLabel(file.path, {
        inboxRoot: inbox, knownLabels: known.length > 0 ? known : undefined, policy: config.ingest.labelPolicy, modality: file.modality, manifests,
      });
      if (r.kind === 'class') {
        classLimit.admit(r.value);
        return { target: { label: r.value } };
      }
      return { target: { transcript: r.value }, sidecars: r.sidecar !== undefined ? [r.sidecar] : [] };
    },
  };
}

/** A relabel's side as one log value: the label, or the transcript quoted. */
function targetText(t: { label: string | null; transcript: string | null } | undefined): string | null {
  if (!t) return null;
  return t.label ?? (t.transcript === null ? null : JSON.stringify(t.transcript));
}

/** Counts and logs one ingestion outcome, queues an accepted sample for scoring and tells the triggers. */
function ingested(ctx: DaemonContext, reports: Pick<WatcherPluginOptions, 'stuck' | 'storage'>, o: IngestOutcome, notify: boolean): void {
  const { log, metrics } = ctx;
  reports.stuck.outcome(o);
  if (o.outcome === 'skipped') {
    log.debug('ingest.skipped', { source: o.source, code: o.code, reason: o.message });
    return;
  }
  // Committed: the store took it.
  reports.storage.succeeded('ingest');
  metrics.ingestFiles.inc({ modality: o.modality ?? 'unknown', outcome: o.outcome });
  if (o.outcome === 'accepted') {
    log.debug('ingest.accepted', { source: o.source, id: o.id.slice(0, 12), shape: o.shape, recovered: o.recovered });
    if (!o.recovered) ctx.get('prequential').add([o.id]);
  } else if (o.outcome === 'duplicate') {
    log.info('ingest.duplicate', { source: o.source, id: o.id.slice(0, 12), destination: o.destination });
  } else if (o.outcome === 'relabeled') {
    // The training data changed under a user's hand: said at warn, with what it was and what it is.
    // Not scored prequentially: the served model may have learned these bytes (under the old target).
    log.warn('ingest.relabeled', { source: o.source, id: o.id.slice(0, 12), from: targetText(o.relabel?.from), to: targetText(o.relabel?.to), destination: o.destination, recovered: o.recovered });
  } else {
    log.warn('ingest.rejected', { source: o.source, code: o.code, reason: o.message, destination: o.destination });
  }
  ctx.get('gauges').refreshSoon();
  if (notify) ctx.get('scheduler').notify();
}

/** Adds the watcher (`watcher`) and starts it: a scan of the inbox, then its events. */
export function watcherPlugin(options: WatcherPluginOptions): DaemonPlugin {
  const { stuck, storage } = options;
  return {
    name: 'watcher',
    async start(ctx) {
      const { config, log } = ctx;
      const inbox = stateLayout(ctx.stateDir).inbox;
      const onSimilarLabel = (fields: SimilarLabel): void => { log.warn('ingest.label_similar', { ...fields }); };
      let closing = false;
      const ingestor = new Ingestor(ingestContext(config, ctx.stateDir, ctx.get('store'), options.inputShape, onSimilarLabel), { concurrency: config.ingest.concurrency });
      const watcher = new InboxWatcher({
        inbox,
        polling: config.ingest.polling,
        pollIntervalMs: config.ingest.pollIntervalMs,
        reconcileIntervalMs: config.ingest.reconcileIntervalSec * 1000,
        stableMs: config.ingest.awaitWriteFinishMs,
        log,
        ingest: async (path) => {
          let outcome: IngestOutcome;
          try {
            outcome = await ingestor.ingest(path);
          } catch (err) {
            const source = relative(inbox, path);
            // A full disk or a stuck move: the file stays where it is and the next reconcile scan tries it again.
            if (storage.failed('ingest', err, { source }) || stuck.failure(source, err)) return { retry: false };
            throw err;
          }
          ingested(ctx, options, outcome, !closing);
          return { retry: outcome.outcome === 'skipped' && outcome.code === 'BONSAI_INGEST_FILE_CHANGED' };
        },
        // A name that is not UTF-8: quarantined by its raw path.
        ingestBadName: async (raw) => {
          try {
            ingested(ctx, options, await ingestor.ingest(raw), !closing);
          } catch (err) {
            const source = relative(inbox, new TextDecoder().decode(raw));
            if (!storage.failed('ingest', err, { source }) && !stuck.failure(source, err)) throw err;
          }
        },
      });
      ctx.add('watcher', watcher);
      await watcher.start();
      return async () => {
        // First: a stop waits for the files being prepared, not for the whole backlog, and the
        // files committed meanwhile do not start an update the stop would only abort.
        closing = true;
        const left = ingestor.close();
        await watcher.stop();
        if (left > 0) log.info('ingest.left_in_inbox', { files: left, reason: 'the daemon is stopping; the next start ingests them' });
      };
    },
  };
}
