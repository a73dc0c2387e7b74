/**
 * Server paths out of what a client without the API token reads. `/v1/status` carries the
 * state directory, and errors name the files they failed on (`<dir>/models/CURRENT`, a
 * version's weights, store.db), in their message and details: where a daemon keeps its data
 * and under which user is not for anyone who can reach the port. A request with the token
 * (daemon/auth.ts) gets them whole, and the log always has them.
 *
 * In every string of an answer, each known root (the state directory, the home, temp and
 * working directories) becomes its name in angle brackets (`<stateDir>/models/3/weights.bin`);
 * any other absolute path of two or more segments becomes `<path>/` and its last segment
 * (`cannot read <path>/CURRENT`). Not paths, and kept: URLs (`http://trainer:8080/v1/models`),
 * routes of this API (`/v1/...`), media types and other words with a slash inside
 * (`image/png`, `a/b`).
 */
import { homedir, tmpdir } from 'node:os';

/** Absolute server paths by the name that stands for them, e.g. `{ stateDir: '/var/lib/bonsai' }`. */
export type PathRoots = Readonly<Record<string, string>>;

/** The roots every process has: home, temp and working directory. */
export function processRoots(): PathRoots {
  return { home: homedir(), tmp: tmpdir(), cwd: process.cwd() };
}

/** Characters that end a path in a message (quotes, brackets, separators, white space). */
const END = String.raw`\s'"\x60,;()[\]{}<>|`;
/**
 * An absolute path not inside a URL or a word: after start, white space, an opening quote or
 * bracket, or a colon that does not begin `://` (`store.db:/data/x`), or in a file URL
 * (`file:///data/x`); never after a URL's host (`[::1]/a`, `host:8080/a`).
 */
const ABSOLUTE = new RegExp(String.raw`(?:(?<![\w.:/~<>@%+\]-])|(?<=[^/]:)(?=/[^/])|(?<=file://))/[^${END}]+`, 'g');

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces the absolute paths in strings (see the module's doc). */
export class PathRedactor {
  /** The roots in one pattern, the longest first (`cwd` inside `home`), or null for none. */
  private readonly roots: RegExp | null;
  private readonly names = new Map<string, string>();

  constructor(roots: PathRoots) {
    const dirs = Object.entries(roots)
      .map(([name, dir]) => ({ name, dir: dir.replace(/\/+$/, '') }))
      .filter(({ dir }) => dir.startsWith('/') && dir.length > 1)
      .sort((a, b) => b.dir.length - a.dir.length);
    for (const { name, dir } of dirs) if (!this.names.has(dir)) this.names.set(dir, name);
    this.roots = dirs.length === 0 ? null
      : new RegExp(String.raw`(?<![\w.~/-])(?:${dirs.map(({ dir }) => escapeRegExp(dir)).join('|')})(?=$|[/:${END}])`, 'g');
  }

  /** `text` with its absolute paths replaced. */
  text(text: string): string {
    if (!text.includes('/')) return text;
    const out = this.roots === null ? text : text.replace(this.roots, (dir) => `<${this.names.get(dir) ?? 'path'}>`);
    return out.replace(ABSOLUTE, (path) => {
      if (path.startsWith('/v1/')) return path;
      const segments = path.split('/').filter((s) => s.length > 0);
      return segments.length < 2 ? path : `<path>/${segments[segments.length - 1]}`;
    });
  }

  /**
   * The JSON form of `value` (errors by their `toJSON`) with every string value replaced,
   * and whether anything was; keys are left as they are.
   */
  value(value: unknown): { value: unknown; changed: boolean } {
    let changed = false;
    const json = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v !== 'string') return v;
      const replaced = this.text(v);
      if (replaced !== v) changed = true;
      return replaced;
    });
    return { value: json === undefined ? undefined : JSON.parse(json) as unknown, changed };
  }
}
