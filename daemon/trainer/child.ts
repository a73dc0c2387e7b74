/**
 * Entry point of the trainer child process (`node --import tsx daemon/trainer/child.ts`,
 * started by daemon/trainer/process.ts with an IPC channel). Training runs
 * here, not in the daemon, so that serving latency stays flat (tfjs in worker
 * threads is unreliable) and a crash or a kill costs only the update.
 *
 * Protocol (daemon/trainer/protocol.ts): one `run` message in; `progress`
 * messages, then one `done` or `error` out; then the process exits.
 *
 * It exits too, within about PARENT_POLL_MS and without publishing, when the
 * parent goes away however it does (SIGKILL, SIGHUP, a crash): training blocks
 * this thread for as long as an update takes, so a watchdog thread watches the
 * parent and kills this process (daemon/trainer/parent-watch.ts says why so);
 * the progress callbacks, reached between epochs and pruning steps, check too,
 * the last one just before the candidate is published.
 */
import { initBackend } from '../../core/index.ts';
import { trainCandidate } from './train.ts';
import { errorToWire, type ChildMessage, type ParentMessage } from './protocol.ts';
import { expectedParent, parentGone, watchParent } from './parent-watch.ts';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}

const parent = expectedParent();

/** Exits at once if the parent has gone: nobody is waiting for this update, and a version published now would be nobody's. */
function exitIfOrphaned(): void {
  if (parentGone(parent)) process.exit(1);
}

async function run(message: ParentMessage): Promise<void> {
  const { job } = message;
  let code = 0;
  try {
    await initBackend({ force: job.backend.name === 'auto' ? undefined : job.backend.name, threads: job.backend.threads ?? undefined });
    const result = await trainCandidate(job, {
      onProgress: (progress) => {
        exitIfOrphaned();
        void send({ type: 'progress', progress });
      },
    });
    await send({ type: 'done', result });
  } catch (err) {
    await send({ type: 'error', error: errorToWire(err) });
    code = 1;
  }
  // Exit explicitly: the wasm backend's worker threads would keep the process alive.
  process.exit(code);
}

if (!process.send) {
  process.stderr.write('daemon/trainer/child.ts is started by the bonsai daemon with an IPC channel; it does nothing on its own\n');
  process.exit(2);
}
exitIfOrphaned(); // the parent died before this process got here
watchParent(parent).once('error', (err) => {
  // Without the watchdog the progress callbacks still check, between epochs.
  process.stderr.write(`trainer: the watch on the parent process failed (${err.message}); an orphaned trainer exits at its next epoch or pruning step\n`);
});
process.once('message', (message: ParentMessage) => {
  if (message?.type === 'run') void run(message);
});
// The parent closed the channel or is gone: nobody is waiting for this update (seen only while this thread is free).
process.once('disconnect', () => process.exit(1));
