/**
 * The model cache of a `role: server` that follows a trainer over HTTP
 * (deploy/README.md, "Roles"). A version is downloaded into
 * `<stateDir>/models/.staging-<tag>/`, every file is hashed while it streams
 * and compared with the trainer's manifest, the manifest is written last, and
 * the directory is renamed to `models/<N>/`: the same layout and the same
 * all-or-nothing publish as the trainer's registry, so a read-only
 * `ModelRegistry` on the cache lists, verifies and loads it. A version whose
 * download or checksums fail leaves nothing behind.
 *
 * A cached version is used again only when it is the trainer's version of that
 * number, file for file: its manifest's checksums equal the trainer's and every
 * file still hashes to them. Otherwise it is replaced: a trainer whose state was
 * reset numbers its versions from 1 again, and a damaged file in the cache would
 * otherwise leave the server with nothing to serve until the next promotion. When
 * the trainer cannot be asked, an intact cached copy is used; a server that starts
 * then serves the version it served last (`markServed`, `lastServed`).
 *
 * The cache is the mirror's own when the directory holds no registry of a trainer
 * (`CURRENT`, `history.jsonl`): then every version in it, also those of earlier
 * runs, is the mirror's to prune. In a trainer's registry (a server pointed at a
 * shared volume) only the versions this process downloaded are.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { BonsaiError } from '../../core/errors.ts';
import { fsyncPath, tagIsLive, tempTag, writeRegistryFile } from '../registry/files.ts';
import { HISTORY_FILE } from '../registry/history.ts';
import { CURRENT_FILE, verifyArtifacts } from '../registry/registry.ts';
import { MANIFEST_FILE, manifestSchema, readManifest, type Manifest } from '../registry/manifest.ts';

const STAGING = '.staging-';
/** The version this server last served from its cache, with its files' checksums (`markServed`). */
const SERVED_FILE = '.served.json';

/** A champion as the trainer names it. */
export interface TrainerChampion {
  version: number;
  manifest: Manifest;
}

/** Options of `ModelMirror`. */
export interface MirrorOptions {
  /** Bearer token sent to the trainer (its read routes do not need one). */
  token?: string;
  /** Longest time one request to the trainer may take in ms; default 60 000. */
  timeoutMs?: number;
  /** Told when a cached version is replaced by a new download (the log's `model.cache_replaced`). */
  onReplaced?: (replaced: CacheReplacement) => void;
}

/** A cached version that was not used again, and why. */
export interface CacheReplacement {
  version: number;
  /** `stale`: the trainer's version of that number has other files; `damaged`: a file is missing or no longer hashes to its checksum. */
  cause: 'stale' | 'damaged';
  /** The files that differ (stale) or fail (damaged). */
  files: string[];
}

/** Files of a registry that a mirror never writes: a directory holding one is a trainer's registry, not a cache. */
const REGISTRY_MARKS = [CURRENT_FILE, HISTORY_FILE];

/** Downloads, verifies and caches the trainer's versions in a local models directory. */
export class ModelMirror {
  readonly dir: string;
  readonly trainerUrl: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #onReplaced: ((replaced: CacheReplacement) => void) | undefined;
  readonly #inFlight = new Map<number, Promise<void>>();
  /** Versions being read by a loader (`use`), with how many reads: `prune` leaves them. */
  readonly #inUse = new Map<number, number>();
  readonly #manifests = new Map<number, Manifest>();
  /** Versions `prune` may remove: those this process downloaded, and in a cache of its own every version found at `open`. */
  readonly #downloaded = new Set<number>();
  /** The directory is the mirror's own cache (no registry marks at `open`): any version in it may be replaced. */
  #own = false;

  constructor(dir: string, trainerUrl: string, options: MirrorOptions = {}) {
    this.dir = dir;
    this.trainerUrl = trainerUrl;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#onReplaced = options.onReplaced;
  }

  /**
   * Creates the directory and removes staging directories of dead processes. In a cache of its
   * own (no registry marks), the versions left by earlier runs become prunable.
   */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    for (const name of names) {
      if (name.startsWith(STAGING) && !tagIsLive(name.slice(STAGING.length))) await rm(join(this.dir, name), { recursive: true, force: true });
      // writeRegistryFile's temporary file of `.served.json`, left by a process that died while writing it.
      const temp = name.startsWith(`.${SERVED_FILE}.tmp-`) ? name.slice(SERVED_FILE.length + 6) : null;
      if (temp !== null && !tagIsLive(temp)) await rm(join(this.dir, name), { force: true });
    }
    if (names.some((name) => REGISTRY_MARKS.includes(name))) return;
    this.#own = true;
    for (const name of names) if (/^[1-9]\d*$/.test(name)) this.#downloaded.add(Number(name));
  }

  /** The trainer's champion (`GET /v1/models/current`), or null when it has none yet. */
  async current(): Promise<TrainerChampion | null> {
    const res = await this.#get('/v1/models/current');
    const json = await res.json().catch(() => ({})) as { version?: unknown; manifest?: unknown; error?: { code?: string } };
    if (res.status === 404 && json.error?.code === 'BONSAI_HTTP_NO_CHAMPION') return null;
    if (res.status !== 200) throw this.#answered('/v1/models/current', res.status, json);
    const manifest = this.#manifestOf(Number(json.version), json.manifest);
    return { version: manifest.version, manifest };
  }

  /** Makes `models/<version>/` hold the trainer's version, verified; a no-op when it already does. */
  ensure(version: number): Promise<void> {
    let running = this.#inFlight.get(version);
    if (!running) {
      running = this.#download(version).finally(() => this.#inFlight.delete(version));
      this.#inFlight.set(version, running);
    }
    return running;
  }

  /**
   * Makes `models/<version>/` hold the trainer's version (`ensure`), then runs `read` on it; a
   * `prune` meanwhile leaves that version, so a loader never finds its files gone mid-read.
   */
  async use<T>(version: number, read: () => Promise<T>): Promise<T> {
    this.#inUse.set(version, (this.#inUse.get(version) ?? 0) + 1);
    try {
      await this.ensure(version);
      return await read();
    } finally {
      const left = (this.#inUse.get(version) ?? 1) - 1;
      if (left > 0) this.#inUse.set(version, left);
      else this.#inUse.delete(version);
    }
  }

  /**
   * Records `version` as the one served (in a cache of its own only; a trainer's registry is
   * never written), so that a restart while the trainer cannot be reached serves it again.
   */
  async markServed(version: number): Promise<void> {
    if (!this.#own) return;
    const manifest = await readManifest(join(this.dir, String(version)), version);
    if (!manifest) return;
    await writeRegistryFile(join(this.dir, SERVED_FILE), `${JSON.stringify({ version, checksums: manifest.checksums })}\n`);
  }

  /** The version last recorded by `markServed` and its checksums, when its cached manifest still has them; else null. */
  async lastServed(): Promise<{ version: number; checksums: Record<string, string> } | null> {
    let recorded: { version?: unknown; checksums?: unknown };
    try {
      recorded = JSON.parse(await readFile(join(this.dir, SERVED_FILE), 'utf8')) as typeof recorded;
    } catch {
      return null;
    }
    const version = recorded?.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1 || typeof recorded.checksums !== 'object' || recorded.checksums === null) return null;
    const cached = await readManifest(join(this.dir, String(version)), version);
    if (!cached || checksumDifferences(cached.checksums, recorded.checksums as Record<string, string>).length > 0) return null;
    return { version, checksums: cached.checksums };
  }

  /** Removes the versions this process downloaded except `keep` (e.g. the one served and its predecessor); returns those removed. */
  async prune(keep: readonly (number | null)[]): Promise<number[]> {
    const removed: number[] = [];
    for (const version of [...this.#downloaded]) {
      if (keep.includes(version) || this.#inFlight.has(version) || this.#inUse.has(version)) continue;
      this.#downloaded.delete(version);
      if (await this.#discard(version)) removed.push(version);
    }
    return removed;
  }

  /** Removes `models/<version>/` (renamed aside first, so it is never seen half-removed); false when it was not there. */
  async #discard(version: number): Promise<boolean> {
    const trash = join(this.dir, `${STAGING}${tempTag()}`);
    try {
      await rename(join(this.dir, String(version)), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  async #download(version: number): Promise<void> {
    const target = join(this.dir, String(version));
    const cached = await readManifest(target, version);
    // The trainer's manifest as `current()` just read it, used once: a version reached another way
    // (a promotion forwarded through this server) is asked for again, since a trainer reset renumbers.
    let wanted = this.#manifests.get(version);
    this.#manifests.delete(version);
    if (cached || existsSync(target)) {
      if (!wanted) {
        try {
          wanted = await this.#fetchManifest(version);
        } catch (err) {
          // The trainer cannot say which files version N has: an intact cached copy is served.
          if (!(err instanceof BonsaiError && err.code === 'BONSAI_DAEMON_TRAINER_UNREACHABLE')) throw err;
        }
      }
      const problem = cached ? await cacheProblem(target, cached, wanted) : { cause: 'damaged' as const, files: [MANIFEST_FILE] };
      if (problem === null) return;
      // Only the mirror's own copies are replaced: a trainer's registry on a shared volume is never changed.
      if (!this.#own && !this.#downloaded.has(version)) {
        throw new BonsaiError('BONSAI_DAEMON_MODEL_CORRUPT', `model version ${version} in ${this.dir} is ${problem.cause} (${problem.files.join(', ')}) and is not this server's copy to replace`, { version, dir: this.dir, ...problem });
      }
      await this.#discard(version);
      this.#onReplaced?.({ version, ...problem });
      // Retried at the next poll as any unreachable trainer is (daemon/plugins/follow.ts).
      if (!wanted) throw new BonsaiError('BONSAI_DAEMON_TRAINER_UNREACHABLE', `the cached model version ${version} is damaged (${problem.files.join(', ')}) and the trainer ${this.trainerUrl} cannot be reached to download it again`, { version, files: problem.files, trainerUrl: this.trainerUrl });
    }
    const manifest = wanted ?? await this.#fetchManifest(version);
    const staging = join(this.dir, `${STAGING}${tempTag()}`);
    await mkdir(staging, { recursive: true });
    try {
      for (const [name, expected] of Object.entries(manifest.checksums)) {
        const path = `/v1/models/${version}/files/${name.split('/').map(encodeURIComponent).join('/')}`;
        const res = await this.#get(path);
        if (res.status !== 200 || res.body === null) {
          const json = await res.json().catch(() => ({}));
          throw new BonsaiError('BONSAI_DAEMON_DOWNLOAD_FAILED', `trainer ${this.trainerUrl} answered ${res.status} to GET ${path}`, { trainerUrl: this.trainerUrl, version, file: name, status: res.status, answer: json });
        }
        const file = join(staging, ...name.split('/'));
        await mkdir(dirname(file), { recursive: true });
        const hash = createHash('sha256');
        const tap = new Transform({ transform(chunk: Buffer, _enc, done) { hash.update(chunk); done(null, chunk); } });
        try {
          await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(file, { flags: 'wx' }));
        } catch (cause) {
          throw new BonsaiError('BONSAI_DAEMON_DOWNLOAD_FAILED', `downloading ${name} of model version ${version} from ${this.trainerUrl} failed: ${(cause as Error).message}`, { trainerUrl: this.trainerUrl, version, file: name }, { cause });
        }
        const actual = hash.digest('hex');
        if (actual !== expected) {
          throw new BonsaiError('BONSAI_DAEMON_CHECKSUM_MISMATCH', `${name} of model version ${version} from ${this.trainerUrl} has SHA-256 ${actual}, its manifest says ${expected}; not used`,
            { trainerUrl: this.trainerUrl, version, file: name, expected, actual });
        }
        await fsyncPath(file);
      }
      await writeRegistryFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      await fsyncPath(staging);
      try {
        await rename(staging, target);
        this.#downloaded.add(version);
      } catch (err) {
        // Another download of the same version won the rename: keep it.
        if (!(await readManifest(target, version))) throw err;
        await rm(staging, { recursive: true, force: true });
      }
      await fsyncPath(this.dir);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  async #fetchManifest(version: number): Promise<Manifest> {
    const path = `/v1/models/${version}/manifest`;
    const res = await this.#get(path);
    const json = await res.json().catch(() => ({})) as { version?: unknown; manifest?: unknown; error?: { code?: string; message?: string } };
    if (res.status !== 200) throw this.#answered(path, res.status, json);
    return this.#manifestOf(version, json.manifest);
  }

  /** Validates a manifest sent by the trainer: its schema, its version, and artifact names that stay inside a version directory. */
  #manifestOf(version: number, raw: unknown): Manifest {
    const parsed = manifestSchema.safeParse(raw);
    const bad = (why: string): BonsaiError => new BonsaiError('BONSAI_DAEMON_BAD_TRAINER_MANIFEST', `the manifest of model version ${version} from ${this.trainerUrl} is unusable: ${why}`, { trainerUrl: this.trainerUrl, version });
    if (!parsed.success) throw bad(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    if (parsed.data.version !== version) throw bad(`it names version ${parsed.data.version}`);
    for (const name of Object.keys(parsed.data.checksums)) {
      const safe = name.length > 0 && !name.includes('\\') && !name.includes('\0') && !posix.isAbsolute(name)
        && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..') && name !== MANIFEST_FILE && !name.startsWith('.');
      if (!safe) throw bad(`artifact name ${JSON.stringify(name)} is not a plain relative path`);
    }
    this.#manifests.set(version, parsed.data);
    return parsed.data;
  }

  #answered(path: string, status: number, json: { error?: { code?: string; message?: string } }): BonsaiError {
    return new BonsaiError('BONSAI_DAEMON_TRAINER_UNREACHABLE', `trainer ${this.trainerUrl} answered ${status} to GET ${path}: ${json.error?.message ?? 'no error message'}`,
      { trainerUrl: this.trainerUrl, status, path, trainerCode: json.error?.code ?? null });
  }

  async #get(path: string): Promise<Response> {
    try {
      return await fetch(new URL(path, this.trainerUrl), {
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (cause) {
      throw new BonsaiError('BONSAI_DAEMON_TRAINER_UNREACHABLE', `cannot reach the trainer at ${this.trainerUrl}: ${(cause as Error).message}`, { trainerUrl: this.trainerUrl, path }, { cause });
    }
  }
}

/**
 * Why a cached version cannot be used again, or null when it can: its files are not the
 * trainer's (`wanted`, when known), or one no longer hashes to its own manifest's checksum.
 */
async function cacheProblem(dir: string, cached: Manifest, wanted: Manifest | undefined): Promise<Omit<CacheReplacement, 'version'> | null> {
  if (wanted) {
    const differ = checksumDifferences(cached.checksums, wanted.checksums);
    if (differ.length > 0) return { cause: 'stale', files: differ };
  }
  // The check the loader runs (the registry's verify): a copy that passes here passes there.
  const check = await verifyArtifacts(dir, cached.checksums);
  return check.ok ? null : { cause: 'damaged', files: [...check.mismatched.map((m) => m.path), ...check.missing, ...check.unexpected].sort() };
}

/** The artifact names whose checksums differ between two manifests (present in one only included), sorted. */
export function checksumDifferences(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((name) => a[name] !== b[name]).sort();
}
