/**
 * The key space of the configuration, read from the schema itself: every leaf
 * path, what kind of value it holds, its environment variable, and the keys an
 * object accepts (for "did you mean" hints). Nothing here is written by hand, so
 * a field added to config/schema.ts gets its env variable for free.
 */
import type { z } from 'zod';
import { configSchema } from './schema.ts';

/** How a text value (env variable, CLI flag) is turned into a config value. */
export type LeafKind = 'string' | 'json';

/** One settable field of the configuration. */
export interface LeafKey {
  /** Path from the root, e.g. `['server', 'port']`. */
  readonly path: readonly string[];
  /** Dotted form, e.g. `server.port`. */
  readonly dotted: string;
  /** `string` fields take text as is; others parse it as JSON (numbers, booleans, arrays). */
  readonly kind: LeafKind;
  /** Whether `null` is a valid value. */
  readonly nullable: boolean;
  /** Generic environment variable, e.g. `BONSAI_SERVER__PORT`. */
  readonly env: string;
}

interface Def {
  type: string;
  innerType?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
}

function defOf(schema: z.core.$ZodType): Def {
  return schema._zod.def as unknown as Def;
}

const WRAPPERS = new Set(['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch']);

/** Strips default/prefault/nullable wrappers; says whether null was allowed on the way. */
function unwrap(schema: z.core.$ZodType): { core: z.core.$ZodType; nullable: boolean } {
  let core = schema;
  let nullable = false;
  for (let def = defOf(core); WRAPPERS.has(def.type) && def.innerType; def = defOf(core)) {
    if (def.type === 'nullable') nullable = true;
    core = def.innerType;
  }
  return { core, nullable };
}

/** `growthPercentile` -> `GROWTH_PERCENTILE`. */
function screamingSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The generic environment variable of a path: segments in SCREAMING_SNAKE joined by `__`. */
export function envNameOf(path: readonly string[]): string {
  return `BONSAI_${path.map(screamingSnake).join('__')}`;
}

function walk(schema: z.core.$ZodType, path: string[], out: LeafKey[]): void {
  const { core, nullable } = unwrap(schema);
  const def = defOf(core);
  if (def.type === 'object' && def.shape) {
    for (const [key, child] of Object.entries(def.shape)) walk(child, [...path, key], out);
    return;
  }
  const kind: LeafKind = def.type === 'string' || def.type === 'enum' ? 'string' : 'json';
  out.push({ path, dotted: path.join('.'), kind, nullable, env: envNameOf(path) });
}

/** Every settable leaf of the configuration, in schema order. */
export const LEAF_KEYS: readonly LeafKey[] = (() => {
  const out: LeafKey[] = [];
  walk(configSchema, [], out);
  return Object.freeze(out);
})();

const BY_DOTTED = new Map(LEAF_KEYS.map((k) => [k.dotted, k]));
const BY_ENV = new Map(LEAF_KEYS.map((k) => [k.env, k]));

/** The leaf at a dotted path, if there is one. */
export function leafAt(dotted: string): LeafKey | undefined {
  return BY_DOTTED.get(dotted);
}

/** The leaf that a generic environment variable names, if any. */
export function leafOfEnv(name: string): LeafKey | undefined {
  return BY_ENV.get(name);
}

/** The keys that the object at `path` accepts, or null when `path` is not an object. */
export function objectKeysAt(path: readonly (string | number)[]): string[] | null {
  let schema: z.core.$ZodType = configSchema;
  for (const segment of path) {
    const def = defOf(unwrap(schema).core);
    const child = def.type === 'object' ? def.shape?.[String(segment)] : undefined;
    if (!child) return null;
    schema = child;
  }
  const def = defOf(unwrap(schema).core);
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : null;
}

/**
 * Turns text from an env variable or a CLI flag into the value a leaf expects:
 * `null` for nullable leaves, text for string leaves, JSON otherwise (with
 * `28,28,1` accepted for arrays). Text that does not parse (or parses to an
 * infinite number) is returned as is, so that validation reports it with the
 * actual value.
 */
export function coerceText(leaf: LeafKey, text: string): unknown {
  const trimmed = text.trim();
  if (leaf.nullable && trimmed === 'null') return null;
  if (leaf.kind === 'string') return text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // `28,28,1`, or a list with a bad entry (`28,x,1`), which validation then names by its index.
    if (trimmed.includes(',')) return trimmed.split(',').map((p) => (/^\s*-?[\d.]+(e[+-]?\d+)?\s*$/i.test(p) ? Number(p) : p.trim()));
    return text;
  }
  // A number beyond float64 (`1e400`) parses as Infinity: report the text as it was sent.
  return typeof parsed === 'number' && !Number.isFinite(parsed) ? text : parsed;
}
