/**
 * The daemon's log: winston, one JSON object per line (what log shippers and
 * `jq` read), or short readable lines on a terminal. Every lifecycle step is one
 * event whose message is a stable dotted name (`update.promoted`) and whose
 * fields carry the version and the figures, e.g.
 *
 *   {"level":"info","message":"update.promoted","time":"...","version":3,"error":0.04,...}
 *
 * The event names are listed in docs/architecture.md ("Log events").
 */
import winston from 'winston';
import type { Config } from '../config/index.ts';

/**
 * An event's fields. Never `message`: that is the event's name, and winston would append a
 * `message` field to it (`"ingest.rejected the label ..."`), so filters on the name would miss it.
 */
export type LogFields = Record<string, unknown> & { message?: never };

/** What the daemon logs with: winston's logger, or anything with the same four methods (tests). */
export interface Log {
  error(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
}

/** Options of `createLog`. */
export interface LogOptions {
  /** Least severe level written (config `log.level`). */
  level?: Config['log']['level'];
  /** `json`, `pretty`, or `auto` (pretty when stdout is a terminal); config `log.format`. */
  format?: Config['log']['format'];
  /** Where lines go; default stdout. */
  stream?: NodeJS.WritableStream;
  /** Write nothing (tests). */
  silent?: boolean;
}

/** `key=value` pairs of the fields, values as compact JSON. */
function pairs(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([k]) => k !== 'level' && k !== 'message' && k !== 'time' && k !== 'timestamp')
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
}

const pretty = winston.format.printf((info) => {
  const { level, message, time, ...rest } = info as { level: string; message: unknown; time?: string; [key: string]: unknown };
  const extra = pairs(rest);
  return `${String(time ?? '').slice(11, 23)} ${level.padEnd(5)} ${String(message)}${extra ? ` ${extra}` : ''}`;
});

/** Serialises Error values in fields (winston would print `{}`). */
const errors = winston.format((info) => {
  for (const [k, v] of Object.entries(info)) {
    if (v instanceof Error) {
      const coded = v as Error & { code?: unknown; details?: unknown };
      (info as Record<string, unknown>)[k] = { message: v.message, code: coded.code, details: coded.details };
    }
  }
  return info;
});

/** A winston logger with bonsai's formats. */
export function createLog(options: LogOptions = {}): winston.Logger {
  const stream = options.stream ?? process.stdout;
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  const usePretty = options.format === 'pretty' || ((options.format ?? 'auto') === 'auto' && tty);
  const time = winston.format.timestamp({ alias: 'time', format: () => new Date().toISOString() });
  return winston.createLogger({
    level: options.level ?? 'info',
    silent: options.silent ?? false,
    format: usePretty
      ? winston.format.combine(errors(), time, winston.format.colorize({ level: tty }), pretty)
      : winston.format.combine(errors(), winston.format.timestamp({ format: () => new Date().toISOString() }), renameTimestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** JSON lines say `time`, as the pretty form does (winston's default key is `timestamp`). */
const renameTimestamp = winston.format((info) => {
  const record = info as Record<string, unknown>;
  if ('timestamp' in record) {
    record.time = record.timestamp;
    delete record.timestamp;
  }
  return info;
});

/** A log that keeps every event in memory (tests assert on lifecycle events). */
export class MemoryLog implements Log {
  readonly events: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];

  error(event: string, fields: Record<string, unknown> = {}): void { this.events.push({ level: 'error', event, fields }); }
  warn(event: string, fields: Record<string, unknown> = {}): void { this.events.push({ level: 'warn', event, fields }); }
  info(event: string, fields: Record<string, unknown> = {}): void { this.events.push({ level: 'info', event, fields }); }
  debug(event: string, fields: Record<string, unknown> = {}): void { this.events.push({ level: 'debug', event, fields }); }

  /** Events named `event`, oldest first. */
  named(event: string): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.event === event).map((e) => e.fields);
  }
}
