/**
 * Loads the configuration: defaults < file (YAML or JSON) < environment
 * (`BONSAI_*`) < CLI flags. The merged input is validated once by the schema and
 * the result is deeply frozen. Every problem is reported in one error that names
 * the key's path, the actual value and where the value came from.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
// config/ may import the dependency-free error type only (DESIGN.md: one error type, coded).
import { BonsaiError } from '../core/errors.ts';
import { configSchema, type Config } from './schema.ts';
import { coerceText, leafAt, leafOfEnv, objectKeysAt, type LeafKey } from './keys.ts';

/** Short environment variables; any leaf also has a generic one, e.g. `BONSAI_ALGORITHM__GROWTH_PERCENTILE`. */
export const ENV_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  BONSAI_STATE_DIR: 'stateDir',
  BONSAI_MODEL: 'model.name',
  BONSAI_BACKEND: 'backend.name',
  BONSAI_THREADS: 'backend.threads',
  BONSAI_UPDATE_THRESHOLD: 'triggers.pendingCount',
  BONSAI_HOST: 'server.host',
  BONSAI_PORT: 'server.port',
  BONSAI_ROLE: 'role',
  BONSAI_TRAINER_URL: 'trainerUrl',
  BONSAI_POLLING: 'ingest.polling',
  BONSAI_LOG_LEVEL: 'log.level',
  BONSAI_LOG_FORMAT: 'log.format',
});

/** Environment variable that names the config file when neither `file` nor `--config` is given. */
export const CONFIG_FILE_ENV = 'BONSAI_CONFIG';

/** The flags of `bonsai start` (DESIGN.md), as commander returns them. */
export interface StartFlags {
  /** `--config FILE`: the config file; wins over `LoadOptions.file`. */
  config?: string;
  /** `--state-dir DIR` -> `stateDir`. */
  stateDir?: string;
  /** `--port N` -> `server.port`. */
  port?: string | number;
  /** `--model NAME` -> `model.name`. */
  model?: string;
  /** `--update-threshold N` (a count of new samples) -> `triggers.pendingCount`. */
  updateThreshold?: string | number;
  /** `--role all|trainer|server` -> `role`. */
  role?: string;
  /** `--trainer-url URL` -> `trainerUrl`. */
  trainerUrl?: string;
}

/** CLI flags and the key each sets. */
export const FLAG_KEYS: Readonly<Record<Exclude<keyof StartFlags, 'config'>, { flag: string; key: string }>> = Object.freeze({
  stateDir: { flag: '--state-dir', key: 'stateDir' },
  port: { flag: '--port', key: 'server.port' },
  model: { flag: '--model', key: 'model.name' },
  updateThreshold: { flag: '--update-threshold', key: 'triggers.pendingCount' },
  role: { flag: '--role', key: 'role' },
  trainerUrl: { flag: '--trainer-url', key: 'trainerUrl' },
});

/** Inputs of `loadConfig`. */
export interface LoadOptions {
  /** Config file (YAML, or JSON, which is YAML too); else `flags.config`, else `$BONSAI_CONFIG`, else none. */
  file?: string;
  /** Environment; default `process.env`. Empty values count as unset. */
  env?: Readonly<Record<string, string | undefined>>;
  /** `bonsai start` flags. */
  flags?: StartFlags;
  /** Directory that relative paths from env and flags resolve against; default `process.cwd()`. */
  cwd?: string;
}

/** Keys holding filesystem paths; loadConfig makes them absolute (relative to the file for file values, `~` the home directory). */
const PATH_KEYS = ['stateDir', 'server.tokenFile'];

/**
 * A path with a leading `~` or `~/` read as the home directory (os.homedir()), as a shell would
 * expand it; a config file, systemd's Environment= and `--state-dir=~/x` expand nothing, and `~`
 * would otherwise be a folder of that name. `~user` and a `~` further on are left as they are.
 */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

type Source = string;
type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Input being assembled layer by layer, with the source of every value. */
class Layers {
  readonly value: Plain = {};
  readonly sources = new Map<string, Source>();
  readonly issues: Problem[] = [];

  /** Merges a whole object (a file); null sections count as empty, arrays replace. */
  mergeObject(over: Plain, source: Source, path: string[] = [], target: Plain = this.value): void {
    for (const [key, v] of Object.entries(over)) {
      const p = [...path, key];
      if (v === null && objectKeysAt(p) !== null) continue; // `server:` with every field commented out
      if (isPlain(v) && objectKeysAt(p) !== null) {
        if (!isPlain(target[key])) target[key] = {};
        this.sources.set(p.join('.'), source);
        this.mergeObject(v, source, p, target[key] as Plain);
      } else {
        target[key] = v;
        this.sources.set(p.join('.'), source);
      }
    }
  }

  /** Sets one leaf from text (env or flag) or a value. */
  set(leaf: LeafKey, raw: string | number | boolean, source: Source): void {
    let target = this.value;
    for (const key of leaf.path.slice(0, -1)) {
      if (!isPlain(target[key])) target[key] = {};
      target = target[key] as Plain;
    }
    target[leaf.path[leaf.path.length - 1]] = typeof raw === 'string' ? coerceText(leaf, raw) : raw;
    this.sources.set(leaf.dotted, source);
  }

  /** The source of the value at `path` (its longest recorded prefix), or `default`. */
  sourceOf(path: readonly (string | number)[]): Source {
    for (let n = path.length; n > 0; n--) {
      const s = this.sources.get(path.slice(0, n).join('.'));
      if (s) return s;
    }
    return 'default';
  }
}

/** One reported configuration problem. */
export interface Problem {
  /** Dotted path of the key, `(root)` for the whole document. */
  path: string;
  /** What is wrong. */
  message: string;
  /** The actual value (absent when the key is missing). */
  value?: unknown;
  /** Where the value came from: `default`, `file F`, `env NAME`, `flag --x`. */
  source: Source;
  /** `unknown_key`, `not_a_fraction` (a share above 1, likely in percent) or zod's issue code. */
  kind: string;
  /** For an unknown key: the keys allowed in its place. */
  allowed?: string[];
}

/** Largest config file read: a configuration is a few KiB, so a larger file is another file (a log, a model, a disk image). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** What a special file is, in words. */
function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return stats.isSocket() ? 'a socket' : 'a special file';
}

/**
 * The text of a config file, refused unless it is a regular file of at most MAX_CONFIG_FILE_BYTES:
 * a FIFO waits for a writer and /dev/zero never ends, which would hang the start or `bonsai check`.
 * Opened without blocking (a FIFO's open waits for a writer otherwise) and checked on the open
 * descriptor, so that what is checked is what is read.
 */
function readText(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'unknown';
    throw new BonsaiError('BONSAI_CONFIG_FILE_UNREADABLE', `cannot read config file ${file}: ${code}`, { file, errno: code }, { cause });
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw new BonsaiError('BONSAI_CONFIG_FILE_UNREADABLE', `cannot read config file ${file}: EISDIR`, { file, errno: 'EISDIR' });
    if (!stats.isFile()) {
      throw new BonsaiError('BONSAI_CONFIG_FILE_UNREADABLE', `config file ${file} is ${kindOf(stats)}, not a regular file; only a regular file is read (this one could block or never end)`,
        { file, errno: null, type: kindOf(stats).slice(2) });
    }
    if (stats.size > MAX_CONFIG_FILE_BYTES) {
      throw new BonsaiError('BONSAI_CONFIG_FILE_TOO_LARGE', `config file ${file} has ${stats.size} bytes; a config file has at most ${MAX_CONFIG_FILE_BYTES} (1 MiB)`,
        { file, bytes: stats.size, maxBytes: MAX_CONFIG_FILE_BYTES });
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Reads and parses a config file. */
function readFile(file: string): Plain {
  const text = readText(file);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const [line, col] = first.linePos?.[0] ? [first.linePos[0].line, first.linePos[0].col] : [null, null];
    throw new BonsaiError('BONSAI_CONFIG_FILE_SYNTAX', `config file ${file} is not valid YAML/JSON at line ${line}, column ${col}: ${first.message.split('\n')[0]}`,
      { file, line, column: col, errors: doc.errors.map((e) => e.message.split('\n')[0]) }, { cause: first });
  }
  let value: unknown;
  try {
    // The yaml library refuses alias bombs (exponential expansion) here.
    value = doc.toJS();
  } catch (cause) {
    throw new BonsaiError('BONSAI_CONFIG_FILE_SYNTAX', `config file ${file} cannot be read as data: ${(cause as Error).message.split('\n')[0]}`, { file }, { cause });
  }
  checkTree(value, file);
  if (value === null || value === undefined) return {};
  if (!isPlain(value)) {
    throw new BonsaiError('BONSAI_CONFIG_INVALID', `config file ${file} must hold a mapping of keys, got ${Array.isArray(value) ? 'a list' : typeof value}`, { file, value });
  }
  return value;
}

/** Keys that would reach an object's prototype instead of naming a setting. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Refuses what no configuration holds but a YAML file can: a value that contains itself (an
 * alias inside its own anchor, `a: &a [*a]`) and keys such as `__proto__`, each with the path.
 */
function checkTree(value: unknown, file: string, path: string[] = [], open = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object') return;
  const at = path.length ? path.join('.') : '(top level)';
  if (open.has(value)) {
    throw new BonsaiError('BONSAI_CONFIG_FILE_SYNTAX', `config file ${file}: the value at ${at} contains itself (a YAML alias inside its own anchor)`, { file, path: at });
  }
  open.add(value);
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) {
      throw new BonsaiError('BONSAI_CONFIG_UNKNOWN_KEY', `config file ${file}: key ${[...path, key].join('.')} is not a setting (no configuration key is named ${key})`, { file, path: [...path, key].join('.'), key });
    }
    checkTree((value as Record<string, unknown>)[key], file, [...path, key], open);
  }
  open.delete(value);
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}

/** `(did you mean "port"?)` for a misspelt key among the `known` ones, or an empty string. */
function suggestion(known: readonly string[], key: string): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(k, key);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function dotted(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

/** zod issues -> problems, unknown keys expanded one per key. */
function problemsOf(issues: readonly z.core.$ZodIssue[], layers: Layers | null): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const allowed = objectKeysAt(path) ?? [];
      for (const key of issue.keys) {
        const value = isPlain(issue.input) ? issue.input[key] : undefined;
        out.push({ path: dotted([...path, key]), message: `unknown key${suggestion(allowed, key)}`, value, source: layers?.sourceOf([...path, key]) ?? 'input', kind: 'unknown_key', allowed });
      }
      continue;
    }
    // An unknown key found by a rule of the schema (an option the model does not have); it lists the allowed ones.
    const params = issue.code === 'custom' ? (issue.params as { kind?: unknown; allowed?: unknown } | undefined) : undefined;
    if (params?.kind === 'unknown_key' && Array.isArray(params.allowed)) {
      const allowed = params.allowed.map(String);
      const key = String(path[path.length - 1]);
      out.push({ path: dotted(path), message: `${issue.message}${suggestion(allowed, key)}`, value: issue.input, source: layers?.sourceOf(path) ?? 'input', kind: 'unknown_key', allowed });
      continue;
    }
    // A share given in percent (a value above 1 where a fraction is due).
    const kind = params?.kind === 'not_a_fraction' ? 'not_a_fraction' : issue.code;
    out.push({ path: dotted(path), message: issue.message, value: issue.input, source: layers?.sourceOf(path) ?? 'input', kind });
  }
  return out;
}

/** Marks a number that JSON has no form for, so that `show` writes it as itself. */
const NON_FINITE = /"@@bonsai:(NaN|-?Infinity)@@"/g;

/** A value as JSON, cut at 80 characters; NaN and infinities (YAML's .nan, .inf) as such, where JSON would write null. */
function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `@@bonsai:${v}@@` : v));
  const text = json?.replace(NON_FINITE, '$1') ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * A URL's credentials masked (`http://user:***@host`, `http://***@host` for a user name alone, which
 * may be a token), so that an error does not print them; other values as they are. As a URL parser
 * reads it: the authority runs from the scheme's `//` (or the start) to the first `/`, `?` or `#`,
 * and the credentials end at its last `@` (a password may hold `@`).
 */
function maskSecret(value: unknown): unknown {
  if (typeof value !== 'string' || !value.includes('@')) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  const rest = value.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const at = authority.lastIndexOf('@');
  if (at < 0) return value;
  const colon = authority.indexOf(':');
  const credentials = colon >= 0 && colon < at ? `${authority.slice(0, colon)}:***` : '***';
  return `${scheme}${credentials}${rest.slice(at)}`;
}

/** Problem kinds with a code of their own when every problem is of that kind. */
const KIND_CODES = {
  unknown_key: { code: 'BONSAI_CONFIG_UNKNOWN_KEY', what: 'unknown configuration key' },
  not_a_fraction: { code: 'BONSAI_CONFIG_NOT_A_FRACTION', what: 'a fraction given in percent' },
} as const;

/** Throws one error listing every problem; UNKNOWN_KEY or NOT_A_FRACTION when all of them are of that kind, else INVALID. */
function fail(found: Problem[]): never {
  const problems = found.map((p) => ({ ...p, value: maskSecret(p.value) }));
  const kinds = new Set(problems.map((p) => p.kind));
  const only = kinds.size === 1 && Object.hasOwn(KIND_CODES, problems[0].kind) ? KIND_CODES[problems[0].kind as keyof typeof KIND_CODES] : null;
  const lines = problems.map((p) => `  - ${p.path}: ${p.message}; got ${show(p.value)} (from ${p.source})`);
  const what = only?.what ?? 'invalid configuration';
  throw new BonsaiError(only?.code ?? 'BONSAI_CONFIG_INVALID',
    `${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    { problems });
}

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function validate(input: unknown, layers: Layers | null, extra: Problem[] = []): Config {
  const result = configSchema.safeParse(input, { reportInput: true });
  const problems = [...extra, ...(result.success ? [] : problemsOf(result.error.issues, layers))];
  if (problems.length > 0 || !result.success) fail(problems);
  return deepFreeze(result.data);
}

/** Validates a plain object against the schema (defaults filled in) and freezes it; paths are left as given. */
export function parseConfig(input: unknown): Config {
  return validate(input ?? {}, null);
}

/** The defaults: what an empty config means. */
export function defaultConfig(): Config {
  return parseConfig({});
}

/** Loads, merges (defaults < file < env < flags), validates once and freezes the configuration. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const flags = options.flags ?? {};
  const cwd = options.cwd ?? process.cwd();
  const layers = new Layers();

  const fileArg = flags.config ?? options.file ?? (env[CONFIG_FILE_ENV] || undefined);
  const file = fileArg === undefined ? null : resolve(cwd, fileArg);
  if (file) layers.mergeObject(readFile(file), `file ${file}`);

  const envNames = Object.keys(env).filter((n) => n.startsWith('BONSAI_') && env[n] !== undefined && env[n] !== '').sort();
  // Aliases first, so that a generic variable naming the same key wins.
  for (const name of envNames.filter((n) => n in ENV_ALIASES)) {
    layers.set(leafAt(ENV_ALIASES[name]) as LeafKey, env[name] as string, `env ${name}`);
  }
  for (const name of envNames.filter((n) => !(n in ENV_ALIASES))) {
    const leaf = leafOfEnv(name);
    if (leaf) layers.set(leaf, env[name] as string, `env ${name}`);
    else if (name.includes('__')) {
      layers.issues.push({ path: name, message: 'unknown key: no configuration key has this environment variable', value: env[name], source: `env ${name}`, kind: 'unknown_key' });
    }
    // Other BONSAI_* variables (BONSAI_TOKEN, BONSAI_CONFIG, ...) are not configuration keys.
  }

  for (const [name, { flag, key }] of Object.entries(FLAG_KEYS)) {
    const v = flags[name as keyof typeof FLAG_KEYS];
    if (v !== undefined) layers.set(leafAt(key) as LeafKey, v, `flag ${flag}`);
  }

  for (const key of PATH_KEYS) {
    const leaf = leafAt(key) as LeafKey;
    let target: unknown = layers.value;
    for (const k of leaf.path.slice(0, -1)) target = isPlain(target) ? target[k] : undefined;
    const last = leaf.path[leaf.path.length - 1];
    const v = isPlain(target) ? target[last] : undefined;
    if (typeof v === 'string' && v.length > 0) {
      const path = expandHome(v);
      const base = file && layers.sourceOf(leaf.path) === `file ${file}` ? dirname(file) : cwd;
      (target as Plain)[last] = isAbsolute(path) ? path : resolve(base, path);
    }
  }
  if (layers.value.stateDir === undefined) layers.value.stateDir = resolve(cwd, defaultConfig().stateDir);

  return validate(layers.value, layers, layers.issues);
}
