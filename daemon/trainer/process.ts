/**
 * The parent side of the trainer child process: starts
 * `node --import tsx daemon/trainer/child.ts` with an IPC channel, sends the
 * job, relays progress, and settles with the child's result. A child that
 * crashes, is killed, or exits without an answer rejects with
 * `BONSAI_DAEMON_TRAINER_CRASHED`; one that reports an error rejects with that
 * error's code; `kill()` by the daemon rejects with `BONSAI_DAEMON_UPDATE_ABORTED`.
 *
 * The child dies with this process: it watches this pid and kills itself when
 * it has gone (daemon/trainer/parent-watch.ts), so no trainer outlives a daemon
 * killed by SIGKILL or a crash.
 *
 * The child runs at a lower CPU priority (nice +10 by default) so that the
 * server's predictions keep their latency while it trains.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BonsaiError } from '../../core/errors.ts';
import type { ChildMessage, TrainJob, TrainProgress, TrainResult } from './protocol.ts';
import { PARENT_PID_ENV } from './parent-watch.ts';

/** Options of `startTrainer`. */
export interface TrainerOptions {
  job: TrainJob;
  /** Receives every progress message. */
  onProgress?: (progress: TrainProgress) => void;
  /** Niceness of the child (0..19; higher = lower priority); default 10. */
  nice?: number;
  /** Environment of the child; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout and stderr go; default inherited. */
  stdio?: 'inherit' | 'ignore';
}

/** A running trainer child. */
export interface TrainerHandle {
  /** The child's pid (undefined if it could not be started). */
  readonly pid: number | undefined;
  /** Settles when the child has answered and exited. */
  readonly result: Promise<TrainResult>;
  /** Stops the child (SIGTERM, then SIGKILL after `graceMs`); the result rejects with BONSAI_DAEMON_UPDATE_ABORTED. */
  kill(reason: string, graceMs?: number): void;
}

/** Path of the child's entry module. */
export const CHILD_ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));

/** `--import` argument that lets Node run the TypeScript entry (tsx's loader, resolved from here, so any cwd works). */
function loaderArgs(): string[] {
  return ['--import', import.meta.resolve('tsx')];
}

/** Starts a trainer child for `job`. */
export function startTrainer(options: TrainerOptions): TrainerHandle {
  let child: ChildProcess;
  let aborted: string | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  const result = new Promise<TrainResult>((resolve, reject) => {
    let answer: { ok: true; result: TrainResult } | { ok: false; error: BonsaiError } | null = null;
    try {
      child = fork(CHILD_ENTRY, [], {
        execArgv: loaderArgs(),
        // The child watches this pid and exits when it has gone (parent-watch.ts).
        env: { ...(options.env ?? process.env), [PARENT_PID_ENV]: String(process.pid) },
        stdio: options.stdio === 'ignore' ? ['ignore', 'ignore', 'ignore', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'json',
      });
    } catch (cause) {
      reject(new BonsaiError('BONSAI_DAEMON_TRAINER_SPAWN_FAILED', `cannot start the trainer process: ${(cause as Error).message}`, { entry: CHILD_ENTRY }, { cause }));
      return;
    }
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, Math.max(0, Math.min(19, options.nice ?? 10)));
      } catch {
        // Not permitted here (some containers): the child runs at normal priority.
      }
    }
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.progress);
      else if (message.type === 'done') answer = { ok: true, result: message.result };
      else if (message.type === 'error') {
        const e = message.error;
        const error = new BonsaiError(e.code, `trainer: ${e.message}`, { ...e.details, childStack: e.stack });
        answer = { ok: false, error };
      }
    });
    child.once('error', (cause) => {
      if (answer === null) answer = { ok: false, error: new BonsaiError('BONSAI_DAEMON_TRAINER_SPAWN_FAILED', `trainer process error: ${cause.message}`, { pid: child.pid }, { cause }) };
    });
    child.once('exit', (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (aborted !== null && (answer === null || !answer.ok)) {
        reject(new BonsaiError('BONSAI_DAEMON_UPDATE_ABORTED', `the update was stopped: ${aborted}`, { pid: child.pid, code, signal, reason: aborted }));
      } else if (answer?.ok) {
        resolve(answer.result);
      } else if (answer) {
        reject(answer.error);
      } else {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        reject(new BonsaiError('BONSAI_DAEMON_TRAINER_CRASHED', `the trainer process (pid ${child.pid}) ${how} before reporting a result`, { pid: child.pid, code, signal }));
      }
    });
    child.send({ type: 'run', job: options.job }, (err) => {
      if (err && answer === null) answer = { ok: false, error: new BonsaiError('BONSAI_DAEMON_TRAINER_SPAWN_FAILED', `cannot send the job to the trainer: ${err.message}`, { pid: child.pid }, { cause: err }) };
    });
  });
  return {
    get pid() {
      return child?.pid;
    },
    result,
    kill(reason: string, graceMs = 5000) {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      aborted = reason;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      killTimer.unref();
    },
  };
}
