/**
 * Watches `inbox/` (recursively: label folders, batch folders with manifests)
 * and hands every complete sample file to `ingest`, once at a time per path.
 *
 * Events are hints (research/serving-ingest-monitoring.md, section 2): chokidar
 * events make a file known quickly, and a reconcile scan of the whole inbox at
 * start and every `reconcileIntervalMs` finds whatever an event missed (a
 * restart, an overflowed event queue, a network volume). Nothing is lost by a
 * missed event and nothing is read twice: a path is handed over only when no
 * hand-over of it is in flight, and the ingest protocol recognises a file it
 * already committed. Polling mode (`usePolling`) serves network and container
 * volumes where OS events do not arrive.
 *
 * Symbolic links are never followed (chokidar's `followSymlinks: false`, scans
 * by `lstat`): a link, FIFO, socket or device is handed over itself, at once,
 * so that the ingest protocol quarantines it, and nothing behind a linked folder
 * is ever seen. Names that are not UTF-8 go to `ingestBadName`.
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { DONE_SUFFIX, isInboxInput, isSampleName, scanInbox } from '../../pipelines/ingest/index.ts';
import type { Log } from '../logging.ts';
import { checkComplete, isSpecialEntry, type Look } from './complete.ts';

/** What the daemon does with a complete file; `retry` asks for another look later (the file changed while read). */
export type IngestCallback = (path: string) => Promise<{ retry: boolean }>;

/** Options of `InboxWatcher`. */
export interface InboxWatcherArgs {
  /** The watched folder. */
  inbox: string;
  /** Called with each complete sample file (absolute path), and with each link, FIFO, socket or device (to be quarantined). */
  ingest: IngestCallback;
  /** Called with the raw path of each entry whose name is not valid UTF-8 (found by scans; once at a time per path). */
  ingestBadName?: (path: Buffer) => Promise<void>;
  /** Poll instead of OS events (config `ingest.polling`). */
  polling: boolean;
  /** Polling interval in ms (config `ingest.pollIntervalMs`). */
  pollIntervalMs: number;
  /** Full rescan period in ms (config `ingest.reconcileIntervalSec`); 0 = only at start. */
  reconcileIntervalMs: number;
  /** A file unchanged this long is complete (config `ingest.awaitWriteFinishMs`). */
  stableMs: number;
  log: Log;
}

/** Counters for status and tests. */
export interface WatcherStats {
  /** Files handed to `ingest`. */
  handed: number;
  /** Reconcile scans done. */
  scans: number;
  /** Files waiting to be complete. */
  waiting: number;
  /** Hand-overs in flight. */
  inFlight: number;
}

/** The inbox watcher plugin; see the file comment. */
export class InboxWatcher {
  readonly name = 'watcher';
  private readonly inbox: string;
  private watcher: FSWatcher | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private readonly waiting = new Map<string, { timer: NodeJS.Timeout | null; look?: Look }>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Paths that got an event while in flight: looked at again when the hand-over ends. */
  private readonly again = new Set<string>();
  private stopped = false;
  /** Since when the inbox is missing (ISO time), while it is. */
  private missingSince: string | null = null;
  private counts = { handed: 0, scans: 0 };

  constructor(private readonly args: InboxWatcherArgs) {
    this.inbox = resolve(args.inbox);
  }

  /** Starts watching, then scans the inbox once (files present at start-up are picked up). */
  async start(): Promise<void> {
    mkdirSync(this.inbox, { recursive: true });
    this.stopped = false;
    // chokidar watches the real folder (the inbox may be a link to it); events are mapped back to inbox paths.
    const real = realpathSync(this.inbox);
    const inInbox = (p: string): string => (real === this.inbox ? p : join(this.inbox, relative(real, p)));
    const watcher = watch(real, {
      ignoreInitial: true,
      // Not persistent: the watches do not keep the process alive (the HTTP server does, while the
      // daemon runs). chokidar 5 drops the closer of a folder whose watch it made just before close()
      // (the fix needs chokidar 6, which needs Node 22): a persistent one kept a stopped daemon's
      // process alive for good, one stop in three under load.
      persistent: false,
      usePolling: this.args.polling,
      interval: this.args.pollIntervalMs,
      binaryInterval: this.args.pollIntervalMs,
      ignorePermissionErrors: true,
      // Links are reported as links and never followed: what lies behind one is never watched or handed over.
      followSymlinks: false,
      // Hidden entries are temp files of atomic writers (and .staging dirs); never descend into them.
      ignored: (path: string) => path !== real && basename(path).startsWith('.'),
    });
    this.watcher = watcher;
    watcher.on('add', (p) => this.onEvent(inInbox(p)));
    watcher.on('change', (p) => this.onEvent(inInbox(p)));
    // A folder that appears (a label folder moved in whole) is scanned at once: its files may predate its watch.
    watcher.on('addDir', (p) => {
      if (p !== real && !isSpecialEntry(inInbox(p))) this.scan(inInbox(p));
    });
    watcher.on('error', (err) => this.args.log.warn('watch.error', { error: err }));
    await new Promise<void>((ready) => watcher.once('ready', () => ready()));
    await this.reconcile();
    // chokidar takes the baseline of its polls just after 'ready': a change in between is never reported.
    // One more scan once that baseline is surely taken closes the gap (later ones are the periodic scans).
    this.settleTimer = setTimeout(() => void this.reconcile(), Math.max(250, 3 * this.args.pollIntervalMs));
    this.settleTimer.unref();
    if (this.args.reconcileIntervalMs > 0) {
      this.reconcileTimer = setInterval(() => void this.reconcile(), this.args.reconcileIntervalMs);
      this.reconcileTimer.unref();
    }
    this.args.log.info('watch.started', { inbox: this.inbox, polling: this.args.polling, stableMs: this.args.stableMs, reconcileIntervalMs: this.args.reconcileIntervalMs });
  }

  /** Stops watching and waits for the hand-overs in flight to finish (their files are committed and moved). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.reconcileTimer = null;
    this.settleTimer = null;
    for (const w of this.waiting.values()) if (w.timer) clearTimeout(w.timer);
    this.waiting.clear();
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.close();
    await Promise.allSettled([...this.inFlight.values()]);
    this.args.log.info('watch.stopped', { handed: this.counts.handed });
  }

  /** Scans the whole inbox and looks at every sample file in it; returns how many were found. */
  async reconcile(): Promise<number> {
    if (this.stopped) return 0;
    // A removed inbox (or a link to an unmounted volume) is said once, not recreated: a folder made
    // at an unmounted volume's mount point would take files that the remounted volume then hides.
    if (!existsSync(this.inbox)) {
      if (this.missingSince === null) {
        this.missingSince = new Date().toISOString();
        this.args.log.warn('watch.inbox_missing', { inbox: this.inbox, reason: 'the inbox was removed, or it links to a volume that is not mounted; nothing dropped into its place is ingested until it exists again' });
      }
      return 0;
    }
    if (this.missingSince !== null) {
      this.args.log.info('watch.inbox_back', { inbox: this.inbox, since: this.missingSince });
      this.missingSince = null;
    }
    const found = this.scan(this.inbox);
    this.counts.scans += 1;
    if (found > 0) this.args.log.debug('watch.reconciled', { files: found });
    return found;
  }

  /** Looks at every sample file under `dir`; returns how many were found. */
  private scan(dir: string): number {
    if (this.stopped) return 0;
    let found;
    try {
      found = scanInbox(dir);
    } catch (err) {
      this.args.log.warn('watch.scan_failed', { dir, error: err });
      return 0;
    }
    for (const f of found.candidates) this.consider(f);
    for (const raw of found.badNames) this.handOverBadName(raw);
    return found.candidates.length + found.badNames.length;
  }

  /** A snapshot of the counters. */
  stats(): WatcherStats {
    return { ...this.counts, waiting: this.waiting.size, inFlight: this.inFlight.size };
  }

  /** Resolves when no file is waiting or in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.waiting.size > 0) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  private onEvent(path: string): void {
    if (path.endsWith(DONE_SUFFIX)) {
      const file = path.slice(0, -DONE_SUFFIX.length);
      if (isSampleName(file)) this.consider(file, true);
      return;
    }
    if (isInboxInput(path, () => isSpecialEntry(path))) this.consider(path, true);
  }

  /** Looks at one file: hands it over if complete, else looks again when it may be. */
  private consider(path: string, fromEvent = false): void {
    if (this.stopped) return;
    if (this.inFlight.has(path)) {
      if (fromEvent) this.again.add(path);
      return;
    }
    const entry = this.waiting.get(path);
    if (entry?.timer) {
      if (!fromEvent) return; // a look is already scheduled
      clearTimeout(entry.timer);
      entry.timer = null;
    }
    const result = checkComplete(path, { stableMs: this.args.stableMs, compareLooks: this.args.polling, previous: entry?.look });
    if (result.state === 'gone') {
      this.waiting.delete(path);
      return;
    }
    if (result.state === 'writing') {
      const timer = setTimeout(() => {
        const w = this.waiting.get(path);
        if (w) w.timer = null;
        this.consider(path);
      }, result.retryInMs);
      timer.unref();
      this.waiting.set(path, { timer, look: result.look });
      return;
    }
    this.waiting.delete(path);
    this.handOver(path);
  }

  /** Hands over an entry whose name is not UTF-8 (unless one hand-over of it is in flight). */
  private handOverBadName(raw: Buffer): void {
    const ingest = this.args.ingestBadName;
    const key = `raw:${raw.toString('hex')}`;
    if (ingest === undefined || this.stopped || this.inFlight.has(key)) return;
    this.counts.handed += 1;
    const run = ingest(raw).catch((err: unknown) => {
      this.args.log.error('ingest.failed', { pathHex: raw.toString('hex'), error: err });
    }).then(() => {
      this.inFlight.delete(key);
    });
    this.inFlight.set(key, run);
  }

  private handOver(path: string): void {
    this.counts.handed += 1;
    const run = this.args.ingest(path).then(
      ({ retry }) => retry,
      (err: unknown) => {
        // The file stays in the inbox; the next reconcile scan retries it.
        this.args.log.error('ingest.failed', { path, error: err });
        return false;
      },
    ).then((retry) => {
      this.inFlight.delete(path);
      if (this.stopped) return;
      if (retry || this.again.delete(path)) this.consider(path, true);
    });
    this.inFlight.set(path, run);
  }
}
