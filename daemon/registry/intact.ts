/**
 * The newest intact champion: the version to serve and to train on when the
 * champion (`models/CURRENT`) fails its checksums or lost its manifest. The
 * order is the champion, then earlier champions from the history (the most
 * recent first, as a rollback would go), then any other version that was a
 * champion (retired, rolled back), the newest first. A version is intact when
 * `verify` finds every artifact present and unchanged.
 */
import { championStack } from './history.ts';
import type { ModelRegistry, VerifyReport } from './registry.ts';

/** States of a version that served as champion. */
const CHAMPION_STATES: readonly string[] = ['promoted', 'retired', 'rolled-back'];

/** A version left out of the fallback, and why. */
export interface SkippedVersion {
  version: number;
  /** What failed, e.g. `weights.bin changed`, `masks.bin missing`. */
  problems: string[];
}

/** Which version to use in place of the champion. */
export interface IntactChoice {
  /** The version `models/CURRENT` names; null when none. */
  champion: number | null;
  /** The newest intact champion (the champion itself when it is intact); null when none is. */
  version: number | null;
  /** Versions tried first and found damaged, in order. */
  skipped: SkippedVersion[];
}

/** The checksum problems of a report, one phrase each. */
export function problemsOf(report: VerifyReport): string[] {
  return [...report.mismatched.map((m) => `${m.path} changed`), ...report.missing.map((p) => `${p} missing`), ...report.unexpected.map((p) => `${p} unexpected`)];
}

/**
 * Versions that may stand in for `champion`, best first (see the file comment);
 * only versions with a valid manifest, never `champion` itself.
 */
export async function fallbackOrder(registry: ModelRegistry, champion: number | null): Promise<number[]> {
  const versions = await registry.list();
  const listed = new Set(versions.map((v) => v.version));
  const stack = championStack(await registry.history()).reverse();
  const former = versions.filter((v) => CHAMPION_STATES.includes(v.manifest.state)).map((v) => v.version).reverse();
  const order: number[] = [];
  for (const v of [...stack, ...former]) {
    if (v !== champion && listed.has(v) && !order.includes(v)) order.push(v);
  }
  return order;
}

/** The first of `order` whose checksums verify, with the ones skipped. */
export async function firstIntact(registry: ModelRegistry, order: readonly number[]): Promise<{ version: number | null; skipped: SkippedVersion[] }> {
  const skipped: SkippedVersion[] = [];
  for (const version of order) {
    const report = await registry.verify(version);
    if (report.ok) return { version, skipped };
    skipped.push({ version, problems: problemsOf(report) });
  }
  return { version: null, skipped };
}

/** The champion if it is intact, else the newest intact version that was a champion (see the file comment). */
export async function intactChampion(registry: ModelRegistry): Promise<IntactChoice> {
  const champion = (await registry.current())?.version ?? null;
  if (champion === null) return { champion, version: null, skipped: [] };
  const { version, skipped } = await firstIntact(registry, [champion, ...(await fallbackOrder(registry, champion))]);
  return { champion, version, skipped };
}
