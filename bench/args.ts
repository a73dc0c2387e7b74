/**
 * Command-line options of the benchmarks: `--name value`, typed by the fallback
 * (a number fallback parses the value as a number).
 */
export function arg(name: string, fallback: number): number;
export function arg(name: string, fallback: string): string;
export function arg(name: string, fallback: number | string): number | string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) return fallback;
  return typeof fallback === 'number' ? Number(v) : v;
}
