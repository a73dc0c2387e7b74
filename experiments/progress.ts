/**
 * Progress of long work: a bar on a terminal, one log line per epoch otherwise.
 */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../core/index.ts';

export interface ProgressSink {
  /** A line of text (round and method headers, results). */
  line(text: string): void;
  /** A trainer event. */
  event(prefix: string, e: ProgressEvent): void;
  stop(): void;
}

function describe(prefix: string, e: ProgressEvent): string {
  const parts = [`${prefix} ${e.phase} ${e.kind} ${e.step}${e.steps ? `/${e.steps}` : ''}`];
  if (e.loss !== undefined) parts.push(`loss ${e.loss.toFixed(4)}`);
  if (e.errorRate !== undefined) parts.push(`val error ${(e.errorRate * 100).toFixed(2)}%`);
  if (e.changed !== undefined) parts.push(`${e.kind === 'grow' ? 'grown' : 'pruned'} ${e.changed}`);
  parts.push(`density ${(e.density * 100).toFixed(1)}%`);
  return parts.join(', ');
}

export function progressSink(stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  if (!stream.isTTY) {
    return {
      line: (text) => stream.write(`${new Date().toISOString()} ${text}\n`),
      event: (prefix, e) => stream.write(`${new Date().toISOString()} ${describe(prefix, e)}\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar({ stream, format: '{prefix} {phase} [{bar}] {value}/{total} {info}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  let active = false;
  let key = '';
  return {
    line(text) {
      if (active) {
        bar.stop();
        active = false;
      }
      stream.write(`${text}\n`);
    },
    event(prefix, e) {
      const k = `${prefix}:${e.phase}`;
      const total = e.steps ?? Math.max(e.step, 1);
      if (!active || k !== key) {
        if (active) bar.stop();
        bar.start(total, 0, { prefix, phase: e.phase, info: '' });
        active = true;
        key = k;
      }
      if (e.step > bar.getTotal()) bar.setTotal(e.step);
      bar.update(e.step, { info: describe('', e).replace(/^ \S+ \S+ \S+,?/, '') });
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}
