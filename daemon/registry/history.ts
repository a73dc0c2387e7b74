/**
 * `models/history.jsonl`: the append-only record of what happened to the
 * registry, one JSON object a line: publications, promotions, rejections,
 * rollbacks, retention and repairs, each with its time and reason. It answers
 * "which version was serving at time T" and gives rollback its target.
 */
import { open, readFile, truncate } from 'node:fs/promises';
import { z } from 'zod';

/** File name of the history inside the models directory. */
export const HISTORY_FILE = 'history.jsonl';

/** Kinds of history events. */
export const HISTORY_EVENTS = ['publish', 'promote', 'reject', 'rollback', 'retain', 'repair'] as const;

/** One line of the history. */
export const historyEntrySchema = z.object({
  /** ISO 8601 time of the event. */
  time: z.string(),
  /** What happened. */
  event: z.enum(HISTORY_EVENTS),
  /** The version concerned; for promote, rollback and repair, the new champion; null for retain. */
  version: z.number().int().positive().nullable(),
  /** For promote and rollback: the champion before (null when there was none). */
  from: z.number().int().positive().nullable().optional(),
  /** Why: the gate's verdict, an operator's words, what was repaired. */
  reason: z.string().optional(),
  /** For retain: the versions deleted. */
  deleted: z.array(z.number().int().positive()).optional(),
});

/** One line of the history. */
export type HistoryEntry = z.output<typeof historyEntrySchema>;

/**
 * Every valid entry, oldest first. A line that does not parse (the torn tail
 * of a crashed append, or damage) is skipped, never fatal.
 */
export async function readHistory(path: string): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = historyEntrySchema.safeParse(JSON.parse(line));
      if (parsed.success) entries.push(parsed.data);
    } catch {
      // a torn or damaged line
    }
  }
  return entries;
}

/** Cuts a torn last line (no trailing newline) so that the next append starts a fresh line. Returns whether it cut. */
export async function repairHistoryTail(path: string): Promise<boolean> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (data.length === 0 || data[data.length - 1] === 0x0a) return false;
  await truncate(path, data.lastIndexOf(0x0a) + 1);
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/**
 * The succession of champions, oldest first, as a stack: a promotion pushes
 * its version, a rollback pops the champion it left, a repair pushes the
 * version CURRENT was found to name. The top is the champion; the entry below
 * it is where `rollback()` goes.
 */
export function championStack(entries: readonly HistoryEntry[]): number[] {
  const stack: number[] = [];
  for (const e of entries) {
    if (e.version === null) continue;
    if (e.event === 'promote') stack.push(e.version);
    else if (e.event === 'rollback') {
      stack.pop();
      if (stack[stack.length - 1] !== e.version) stack.push(e.version);
    } else if (e.event === 'repair' && stack[stack.length - 1] !== e.version) stack.push(e.version);
  }
  return stack;
}
