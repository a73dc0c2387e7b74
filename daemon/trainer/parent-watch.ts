/**
 * The trainer child's watch on its parent daemon (daemon/trainer/child.ts).
 *
 * Why a thread: the child trains synchronously (tfjs ops on the cpu or wasm
 * backend), so its main thread reaches the event loop only when an update ends,
 * hours later for a big model. An IPC `disconnect` handler, a signal handler or
 * a timer on the main thread would wait that long: a daemon killed by SIGKILL,
 * SIGHUP or a crash left its trainer training on as an orphan, which then
 * competed for the CPU with the restarted daemon's own trainer and could publish
 * into the registry behind it. Checks at the points the training loop already
 * reaches (progress callbacks, per epoch or pruning step) can be minutes apart
 * for a big model; they are kept (child.ts), but cannot be the only guard.
 *
 * So a worker thread polls `process.ppid` (getppid(2), read afresh on every
 * access) and, once it no longer names the parent that started the child,
 * SIGKILLs its own process: no handler on the blocked main thread could run,
 * and nothing the child holds needs an orderly end (the registry publishes by
 * staging and renaming, and removes a dead process's staging directory; its
 * lock file names a dead pid, which the next writer takes over).
 *
 * Why the parent pid and not the IPC channel: the channel belongs to the main
 * thread and cannot be read from a worker. A dead parent's children are
 * re-parented, to pid 1 or to the nearest subreaper (systemd, tini, a
 * container's init), so the test is "ppid is no longer the parent", never
 * "ppid is 1": a daemon that is a container's pid 1 has children whose ppid is 1
 * while it lives (and when it dies the kernel kills its whole PID namespace).
 * The parent passes its pid in the environment (PARENT_PID_ENV) so that a parent
 * that died before the child started is noticed too.
 *
 * Cost: one thread with a small V8 isolate, waking every PARENT_POLL_MS for one
 * system call. It is unref'd, so it never keeps the child alive (the child also
 * exits explicitly when its update ends).
 */
import { Worker } from 'node:worker_threads';

/** Environment variable in which the daemon (process.ts) gives the trainer child its own pid. */
export const PARENT_PID_ENV = 'BONSAI_TRAINER_PARENT_PID';

/** How often the watchdog looks at the parent, in ms: the child outlives its parent by at most about this. */
export const PARENT_POLL_MS = 250;

/** The pid of the parent that started this process: PARENT_PID_ENV when set, else the parent now. */
export function expectedParent(env: NodeJS.ProcessEnv = process.env): number {
  const pid = Number(env[PARENT_PID_ENV]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : process.ppid;
}

/** Whether the parent `parent` has gone (this process was re-parented). */
export function parentGone(parent: number): boolean {
  return process.ppid !== parent;
}

/** The watchdog thread's code (plain CommonJS, evaluated; no loader needed). */
const WATCHDOG = `
const { workerData } = require('node:worker_threads');
const { parent, intervalMs } = workerData;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, intervalMs);
`;

/**
 * Starts the watchdog: a worker thread that SIGKILLs this process within
 * `intervalMs` of `parent` going away, whatever the main thread is doing.
 * The thread is unref'd; `terminate()` stops it.
 */
export function watchParent(parent: number, intervalMs = PARENT_POLL_MS): Worker {
  const worker = new Worker(WATCHDOG, {
    eval: true,
    workerData: { parent, intervalMs },
    // Not the child's `--import tsx`: the watchdog is plain JavaScript, and a loader would cost memory and start-up time.
    execArgv: [],
    stdin: false,
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  worker.unref();
  return worker;
}
