/**
 * The filesystem model registry under `<stateDir>/models/`.
 *
 * ```
 * models/
 *   CURRENT             the champion's version, e.g. "7\n" (temp file + fsync + rename)
 *   history.jsonl       append-only record of publications, promotions, rejections, rollbacks
 *   7/                  one directory per version: artifacts + manifest.json
 *   .staging-<tag>/     a version being written; renamed to <N>/ when complete
 * ```
 *
 * Publishing is all-or-nothing: artifacts are written to a staging directory,
 * every file is fsynced and hashed, the manifest is written last, and the
 * directory is renamed into place. A crash leaves at most a staging directory,
 * which is never listed and is removed by the next writer that opens the
 * registry. CURRENT only ever names a version that is complete. The pattern is
 * TensorFlow Serving's (numeric version directories, temporaries ignored) plus an
 * atomic pointer file and an audit history (MLflow issue 2169).
 *
 * Writers: one trainer process (or a daemon and its trainer child) at a time;
 * each mutating call holds `models/.lock`. Readers (servers, `bonsai models
 * list`) open with `readOnly: true`, take no lock and may run while a writer
 * publishes: a rename is atomic, so a reader sees a version fully or not at all,
 * and `current()` re-reads CURRENT when the version it named was removed meanwhile.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BonsaiError } from '../../core/errors.ts';
import { appendLine, fsyncPath, sha256File, tagIsLive, tempTag, walkFiles, writeRegistryFile } from './files.ts';
import { HISTORY_FILE, championStack, readHistory, repairHistoryTail, type HistoryEntry } from './history.ts';
import { withWriteLock } from './lock.ts';
import { MANIFEST_FILE, MANIFEST_FORMAT, manifestInputSchema, readManifest, type Manifest, type ManifestInput } from './manifest.ts';
import { assertTransition, canTransition, type VersionState } from './states.ts';
import { fallbackOrder, firstIntact, type SkippedVersion } from './intact.ts';

/** Name of the champion pointer file. */
export const CURRENT_FILE = 'CURRENT';

/** Options of `openRegistry`. */
export interface RegistryOptions {
  /** Never write, clean or lock (servers, status commands). Default false. */
  readOnly?: boolean;
  /** Clock for manifest and history times. Default `() => new Date()`. */
  now?: () => Date;
  /** How long a writer waits for another writer's lock, in ms. Default 30 000. */
  lockTimeoutMs?: number;
}

/** One published version. */
export interface ModelVersion {
  /** Integer version, the directory name. */
  readonly version: number;
  /** Absolute path of `models/<version>/`. */
  readonly dir: string;
  /** Its manifest. */
  readonly manifest: Readonly<Manifest>;
}

/**
 * Recomputes the SHA-256 of every artifact in a version directory `dir` and compares with
 * `checksums` (the manifest's): the registry's `verify`, and the check of a server's cached copy.
 */
export async function verifyArtifacts(dir: string, checksums: Readonly<Record<string, string>>): Promise<Omit<VerifyReport, 'version'>> {
  const onDisk = (await walkFiles(dir)).files.filter((f) => f !== MANIFEST_FILE && !f.startsWith(`.${MANIFEST_FILE}.tmp-`));
  const present = new Set(onDisk);
  const mismatched: { path: string; expected: string; actual: string }[] = [];
  const missing: string[] = [];
  for (const [path, sha] of Object.entries(checksums)) {
    if (!present.has(path)) {
      missing.push(path);
      continue;
    }
    const actual = (await sha256File(join(dir, path))).sha256;
    if (actual !== sha) mismatched.push({ path, expected: sha, actual });
  }
  const unexpected = onDisk.filter((f) => !(f in checksums));
  return { ok: mismatched.length + missing.length + unexpected.length === 0, mismatched, missing, unexpected };
}

/** Result of `verify`: ok iff every artifact is present, unchanged, and nothing was added. */
export interface VerifyReport {
  readonly version: number;
  readonly ok: boolean;
  /** Files whose SHA-256 differs from the manifest's. */
  readonly mismatched: readonly { path: string; expected: string; actual: string }[];
  /** Files in the manifest but not on disk. */
  readonly missing: readonly string[];
  /** Files on disk but not in the manifest. */
  readonly unexpected: readonly string[];
}

/** A champion that `recover()` found lost (CURRENT missing, or naming a version without a valid manifest) and what it did. */
export interface ChampionRestore {
  /** The champion lost: the version CURRENT named, else the last champion of the history. */
  readonly lost: number | null;
  /** `current-missing`: CURRENT is gone; `manifest-missing`: CURRENT names a version without a valid manifest. */
  readonly cause: 'current-missing' | 'manifest-missing';
  /** The newest intact earlier champion, now named by CURRENT; null when none is left. */
  readonly version: number | null;
  /** Earlier champions passed over because they failed their checksums. */
  readonly skipped: readonly SkippedVersion[];
}

const VERSION_NAME = /^[1-9][0-9]*$/;
const STAGING = '.staging-';
const TRASH = '.trash-';
const STALE_MS = 24 * 3600 * 1000;

function notFound(dir: string, version: unknown): BonsaiError {
  return new BonsaiError('BONSAI_REGISTRY_NOT_FOUND', `model version ${String(version)} does not exist in ${dir}`, { dir, version });
}

/** A filesystem model registry; create it with `openRegistry`. */
export class ModelRegistry {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly #now: () => Date;
  readonly #lockTimeoutMs: number;
  /** What the last `recover()` did about a lost champion; null when nothing was lost. */
  recovery: ChampionRestore | null = null;

  constructor(dir: string, options: RegistryOptions = {}) {
    this.dir = resolve(dir);
    this.readOnly = options.readOnly ?? false;
    this.#now = options.now ?? (() => new Date());
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
  }

  /**
   * Publishes a new version: `writeArtifacts` fills a fresh staging directory,
   * then the registry hashes and fsyncs every file, writes the manifest and
   * renames the directory to `models/<N>/` in state `candidate`. Returns N.
   * If anything fails, the staging directory is removed and nothing is visible.
   */
  async publish(writeArtifacts: (stagingDir: string) => Promise<void>, input: ManifestInput): Promise<number> {
    this.#writable('publish');
    const checked = manifestInputSchema.safeParse(input);
    if (!checked.success) {
      const issues = checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new BonsaiError('BONSAI_REGISTRY_BAD_MANIFEST', `manifest of a new model version is invalid: ${issues.join('; ')}`, { issues });
    }
    await mkdir(this.dir, { recursive: true });
    const staging = join(this.dir, `${STAGING}${tempTag()}`);
    await mkdir(staging);
    try {
      try {
        await writeArtifacts(staging);
      } catch (cause) {
        throw new BonsaiError('BONSAI_REGISTRY_PUBLISH_FAILED', `writing the artifacts of a new model version failed: ${(cause as Error).message}`, { staging }, { cause });
      }
      const { files, dirs } = await walkFiles(staging);
      if (files.includes(MANIFEST_FILE)) {
        throw new BonsaiError('BONSAI_REGISTRY_BAD_ARTIFACT', `model artifacts may not include ${MANIFEST_FILE}: the registry writes it`, { path: MANIFEST_FILE });
      }
      if (files.length === 0) throw new BonsaiError('BONSAI_REGISTRY_PUBLISH_FAILED', 'writeArtifacts wrote no files', { staging });
      const checksums: Record<string, string> = {};
      let sizeBytes = 0;
      for (const file of files) {
        const abs = join(staging, file);
        await fsyncPath(abs);
        const { sha256, bytes } = await sha256File(abs);
        checksums[file] = sha256;
        sizeBytes += bytes;
      }
      for (const d of dirs.reverse()) await fsyncPath(d);
      return await withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
        const version = await this.#nextVersion();
        const time = this.#now().toISOString();
        assertTransition(version, 'staged', 'candidate');
        const manifest: Manifest = {
          format: MANIFEST_FORMAT, version, parent: checked.data.parent ?? (await this.#readCurrent()), createdAt: time,
          state: 'candidate', stateChangedAt: time, reason: null, samplesSeen: checked.data.samplesSeen,
          metrics: checked.data.metrics, parameters: checked.data.parameters, cost: checked.data.cost,
          backend: checked.data.backend, timings: checked.data.timings, checksums, sizeBytes,
          ...(checked.data.extra ? { extra: checked.data.extra } : {}),
        };
        await writeRegistryFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
        await rename(staging, this.#versionDir(version));
        await fsyncPath(this.dir);
        await this.#appendHistory({ event: 'publish', version, reason: `parent ${manifest.parent ?? 'none'}` });
        return version;
      });
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Makes `version` the champion (CURRENT) and retires the previous one; refuses a version that fails `verify`.
   * Promoting the champion again changes nothing (no write, no history entry) and returns it.
   */
  async promote(version: number, reason: string): Promise<ModelVersion> {
    this.#writable('promote');
    return withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
      const target = await this.get(version);
      await this.#assertIntact(version);
      const champion = await this.#readCurrent();
      if (champion === version && target.manifest.state === 'promoted') return target;
      assertTransition(version, target.manifest.state, 'promoted');
      const old = champion !== null && champion !== version ? await this.#tryGet(champion) : null;
      const retire = old !== null && old.manifest.state === 'promoted';
      if (retire) assertTransition(old.version, 'promoted', 'retired');
      await this.#writeCurrent(version);
      await this.#appendHistory({ event: 'promote', version, from: champion, reason });
      const promoted = await this.#setState(target, 'promoted', reason);
      if (retire) await this.#setState(old, 'retired', `replaced by version ${version}`);
      return promoted;
    });
  }

  /** Marks a candidate as rejected by the gate; it stays on disk for inspection. */
  async reject(version: number, reason: string): Promise<ModelVersion> {
    this.#writable('reject');
    return withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
      const target = await this.get(version);
      assertTransition(version, target.manifest.state, 'rejected');
      const rejected = await this.#setState(target, 'rejected', reason);
      await this.#appendHistory({ event: 'reject', version, reason });
      return rejected;
    });
  }

  /**
   * Goes back to the previous champion in the history (one step; repeat to go
   * further). The champion left becomes `rolled-back`. Returns the new champion.
   */
  async rollback(reason = 'rollback requested'): Promise<ModelVersion> {
    this.#writable('rollback');
    return withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
      const champion = await this.#readCurrent();
      if (champion === null) throw new BonsaiError('BONSAI_REGISTRY_NO_CHAMPION', `no model version is promoted in ${this.dir}, so there is nothing to roll back`, { dir: this.dir });
      const current = await this.get(champion);
      const target = await this.#rollbackTarget(champion);
      if (target === null) {
        throw new BonsaiError('BONSAI_REGISTRY_NO_ROLLBACK_TARGET', `version ${champion} is the only champion left in the history of ${this.dir}; promote a version by number instead`,
          { dir: this.dir, champion });
      }
      await this.#assertIntact(target.version);
      assertTransition(champion, current.manifest.state, 'rolled-back');
      assertTransition(target.version, target.manifest.state, 'promoted');
      await this.#writeCurrent(target.version);
      await this.#appendHistory({ event: 'rollback', version: target.version, from: champion, reason });
      const promoted = await this.#setState(target, 'promoted', reason);
      await this.#setState(current, 'rolled-back', reason);
      return promoted;
    });
  }

  /** The champion, or null when none was ever promoted. */
  async current(): Promise<ModelVersion | null> {
    for (let attempt = 0; ; attempt++) {
      const version = await this.#readCurrent();
      if (version === null) return null;
      const found = await this.#tryGet(version);
      if (found) return found;
      // A concurrent promotion and retention may have moved CURRENT on; look again.
      if ((await this.#readCurrent()) === version || attempt >= 2) {
        throw new BonsaiError('BONSAI_REGISTRY_CURRENT_MISSING', `${CURRENT_FILE} names version ${version}, which has no valid manifest in ${this.dir}, and no earlier champion is intact; promote a listed version without a daemon: bonsai models promote --offline <version> --state-dir <dir>`,
          { dir: this.dir, version });
      }
    }
  }

  /** Every complete version, oldest first. Directories without a valid manifest are skipped. */
  async list(): Promise<ModelVersion[]> {
    const names = (await this.#entries()).filter((n) => VERSION_NAME.test(n)).map(Number).sort((a, b) => a - b);
    const found = await Promise.all(names.map((v) => this.#tryGet(v)));
    return found.filter((v): v is ModelVersion => v !== null);
  }

  /** One version; throws NOT_FOUND when it does not exist, INVALID_VERSION when its manifest is missing or bad. */
  async get(version: number): Promise<ModelVersion> {
    if (!Number.isSafeInteger(version) || version < 1) throw notFound(this.dir, version);
    const found = await this.#tryGet(version);
    if (found) return found;
    try {
      await stat(this.#versionDir(version));
    } catch {
      throw notFound(this.dir, version);
    }
    throw new BonsaiError('BONSAI_REGISTRY_INVALID_VERSION', `models/${version} has no valid ${MANIFEST_FILE}, so it is not a usable version`, { dir: this.dir, version });
  }

  /** The history, oldest first. */
  async history(): Promise<HistoryEntry[]> {
    return readHistory(join(this.dir, HISTORY_FILE));
  }

  /**
   * Deletes old versions, keeping the newest `keep`, the champion and its
   * rollback target. Each is first renamed out of sight, then removed.
   * Returns the versions deleted.
   */
  async retain(keep: number): Promise<number[]> {
    this.#writable('retain');
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new BonsaiError('BONSAI_REGISTRY_INVALID_ARGUMENT', `retain needs a whole number of versions >= 1, got ${keep}`, { keep });
    }
    return withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
      const versions = (await this.list()).map((v) => v.version);
      const kept = new Set(versions.slice(-keep));
      const champion = await this.#readCurrent();
      if (champion !== null) {
        kept.add(champion);
        const target = await this.#rollbackTarget(champion);
        if (target) kept.add(target.version);
      }
      const deleted = versions.filter((v) => !kept.has(v));
      if (deleted.length === 0) return [];
      const trashed: string[] = [];
      for (const v of deleted) {
        const trash = join(this.dir, `${TRASH}${v}-${tempTag()}`);
        await rename(this.#versionDir(v), trash);
        trashed.push(trash);
      }
      await fsyncPath(this.dir);
      await this.#appendHistory({ event: 'retain', version: null, deleted, reason: `keep the newest ${keep}, the champion and its rollback target` });
      for (const t of trashed) await rm(t, { recursive: true, force: true });
      return deleted;
    });
  }

  /** Recomputes the SHA-256 of every artifact of `version` and compares with its manifest. */
  async verify(version: number): Promise<VerifyReport> {
    const { dir, manifest } = await this.get(version);
    return { version, ...await verifyArtifacts(dir, manifest.checksums) };
  }

  /**
   * Crash recovery, run by `openRegistry` for writers: removes staging and
   * temporary entries of dead processes and trashed versions, cuts a torn
   * history line, and makes the manifests agree with CURRENT (CURRENT is the
   * commit point of promote and rollback, so a crash after it is completed here).
   */
  async recover(): Promise<void> {
    this.#writable('recover');
    this.recovery = null;
    await mkdir(this.dir, { recursive: true });
    await withWriteLock(this.dir, this.#lockTimeoutMs, async () => {
      const now = Date.now();
      for (const name of await this.#entries()) {
        const path = join(this.dir, name);
        if (name.startsWith(TRASH)) await rm(path, { recursive: true, force: true });
        else if (name.startsWith(STAGING) || name.startsWith(`.${CURRENT_FILE}.tmp-`)) {
          const tag = name.slice(name.startsWith(STAGING) ? STAGING.length : `.${CURRENT_FILE}.tmp-`.length);
          const info = await stat(path).catch(() => null);
          const old = info !== null && now - info.mtimeMs > STALE_MS;
          if (!tagIsLive(tag) || old) await rm(path, { recursive: true, force: true });
        } else if (VERSION_NAME.test(name)) {
          for (const inner of await readdir(path).catch(() => [] as string[])) {
            const prefix = `.${MANIFEST_FILE}.tmp-`;
            if (inner.startsWith(prefix) && !tagIsLive(inner.slice(prefix.length))) await rm(join(path, inner), { force: true });
          }
        }
      }
      await repairHistoryTail(join(this.dir, HISTORY_FILE));
      await this.#recordLostPublications();
      await this.#repairStates();
    });
  }

  /**
   * Writes the history line of each version published by a process that stopped between the
   * rename into `models/<N>/` and its append (a kill, a power cut), at the manifest's time, so
   * that the history lists every version. Returns those versions. A directory without a history
   * (a server's cache of a trainer's versions) is left as it is.
   */
  async #recordLostPublications(): Promise<number[]> {
    // No history at all: a new registry, or a server's cache of a trainer's versions (serving/mirror.ts), which keeps none.
    if (!existsSync(join(this.dir, HISTORY_FILE))) return [];
    const published = new Set((await this.history()).filter((e) => e.event === 'publish').map((e) => e.version));
    const lost = (await this.list()).filter((v) => !published.has(v.version));
    for (const { version, manifest } of lost) {
      await appendLine(join(this.dir, HISTORY_FILE), JSON.stringify({
        time: manifest.createdAt, event: 'publish', version,
        reason: `parent ${manifest.parent ?? 'none'}; recorded at open: the process that published it stopped before writing this line`,
      }));
    }
    return lost.map((v) => v.version);
  }

  async #repairStates(): Promise<void> {
    let champion: number | null;
    try {
      champion = await this.#readCurrent();
    } catch {
      return; // an unreadable CURRENT is reported by current(); never guess over it
    }
    let versions = await this.list();
    const promoted = versions.filter((v) => v.manifest.state === 'promoted');
    const stack = championStack(await this.history());
    if (champion === null && promoted.length === 1) {
      // CURRENT was lost: the one promoted manifest says who the champion is.
      champion = promoted[0].version;
      await this.#writeCurrent(champion);
    } else if (champion === null ? promoted.length === 0 && stack.length > 0 : !versions.some((v) => v.version === champion)) {
      champion = await this.#restoreChampion(champion === null ? stack[stack.length - 1] : champion, champion === null ? 'current-missing' : 'manifest-missing');
      versions = await this.list();
    }
    const target = versions.find((v) => v.version === champion);
    if (!target) return;
    // These writes complete an operation whose transitions were checked before its commit point.
    if (target.manifest.state !== 'promoted') await this.#writeManifest(target, 'promoted', `repaired: ${CURRENT_FILE} names it`);
    for (const v of promoted) {
      if (v.version !== champion) await this.#writeManifest(v, 'retired', `repaired: ${CURRENT_FILE} names version ${champion}`);
    }
    const after = championStack(await this.history());
    if (after[after.length - 1] !== champion) await this.#appendHistory({ event: 'repair', version: champion, reason: `${CURRENT_FILE} names version ${champion}` });
  }

  /**
   * The champion `lost` is gone (see `ChampionRestore`): names the newest intact
   * earlier champion in CURRENT and the history, records what happened in
   * `recovery`, and returns the new champion (null when none is intact).
   */
  async #restoreChampion(lost: number, cause: ChampionRestore['cause']): Promise<number | null> {
    const listed = (await this.list()).some((v) => v.version === lost);
    const { version, skipped } = await firstIntact(this, [...(listed ? [lost] : []), ...(await fallbackOrder(this, lost))]);
    this.recovery = { lost, cause, version, skipped };
    if (version === null) return null;
    await this.#writeCurrent(version);
    const why = cause === 'current-missing' ? `${CURRENT_FILE} was missing` : `version ${lost} has no valid ${MANIFEST_FILE}`;
    await this.#appendHistory({ event: 'repair', version, reason: `champion ${lost} lost (${why}); restored version ${version}, the newest intact earlier champion` });
    return version;
  }

  async #rollbackTarget(champion: number): Promise<ModelVersion | null> {
    const stack = championStack(await this.history());
    if (stack[stack.length - 1] !== champion) stack.push(champion);
    for (let i = stack.length - 2; i >= 0; i--) {
      if (stack[i] === champion) continue;
      const candidate = await this.#tryGet(stack[i]);
      if (candidate && canTransition(candidate.manifest.state, 'promoted')) return candidate;
    }
    return null;
  }

  async #assertIntact(version: number): Promise<void> {
    const report = await this.verify(version);
    if (report.ok) return;
    const what = [...report.mismatched.map((m) => `${m.path} changed`), ...report.missing.map((p) => `${p} missing`), ...report.unexpected.map((p) => `${p} unexpected`)];
    throw new BonsaiError('BONSAI_REGISTRY_CORRUPT', `model version ${version} failed its checksum verification: ${what.join(', ')}`, { ...report });
  }

  async #setState(v: ModelVersion, to: VersionState, reason: string): Promise<ModelVersion> {
    assertTransition(v.version, v.manifest.state, to);
    return this.#writeManifest(v, to, reason);
  }

  async #writeManifest(v: ModelVersion, state: VersionState, reason: string): Promise<ModelVersion> {
    const manifest: Manifest = { ...v.manifest, state, reason, stateChangedAt: this.#now().toISOString() };
    await writeRegistryFile(join(v.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return { version: v.version, dir: v.dir, manifest };
  }

  async #tryGet(version: number): Promise<ModelVersion | null> {
    const dir = this.#versionDir(version);
    const manifest = await readManifest(dir, version);
    return manifest ? { version, dir, manifest } : null;
  }

  async #readCurrent(): Promise<number | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, CURRENT_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.#entries(); // a missing models directory is an outage, not "no champion"
      return null;
    }
    const trimmed = text.trim();
    if (!VERSION_NAME.test(trimmed)) {
      throw new BonsaiError('BONSAI_REGISTRY_CURRENT_INVALID', `${join(this.dir, CURRENT_FILE)} should hold a version number, holds ${JSON.stringify(trimmed.slice(0, 40))}`,
        { dir: this.dir, content: trimmed.slice(0, 40) });
    }
    return Number(trimmed);
  }

  async #writeCurrent(version: number): Promise<void> {
    await writeRegistryFile(join(this.dir, CURRENT_FILE), `${version}\n`);
  }

  async #appendHistory(entry: Omit<HistoryEntry, 'time'>): Promise<void> {
    await appendLine(join(this.dir, HISTORY_FILE), JSON.stringify({ time: this.#now().toISOString(), ...entry }));
  }

  /** Highest version ever used plus one: directories (valid or not) and the history both count, so a number is never reused. */
  async #nextVersion(): Promise<number> {
    let max = 0;
    for (const name of await this.#entries()) {
      if (VERSION_NAME.test(name)) max = Math.max(max, Number(name));
      else if (name.startsWith(TRASH)) max = Math.max(max, Number.parseInt(name.slice(TRASH.length), 10) || 0);
    }
    for (const e of await this.history()) max = Math.max(max, e.version ?? 0, ...(e.deleted ?? []));
    return max + 1;
  }

  async #entries(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new BonsaiError('BONSAI_REGISTRY_UNAVAILABLE', `model registry directory ${this.dir} does not exist (an unmounted volume is not an empty registry)`, { dir: this.dir }, { cause: err });
      }
      throw err;
    }
  }

  #versionDir(version: number): string {
    return join(this.dir, String(version));
  }

  #writable(operation: string): void {
    if (this.readOnly) throw new BonsaiError('BONSAI_REGISTRY_READ_ONLY', `${operation} needs a writable registry; ${this.dir} was opened read-only`, { dir: this.dir, operation });
  }
}

/**
 * Opens the registry in `dir` (normally `<stateDir>/models`). Writers create the
 * directory and recover from a crash (see `recover`); readers touch nothing.
 */
export async function openRegistry(dir: string, options: RegistryOptions = {}): Promise<ModelRegistry> {
  const registry = new ModelRegistry(dir, options);
  if (!registry.readOnly) await registry.recover();
  return registry;
}
