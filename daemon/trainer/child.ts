/**
 * Entry point of the trainer child process (`node --import tsx daemon/trainer/child.ts`,
 * started by daemon/trainer/process.ts with an IPC channel). Training runs
 * here, not in the daemon, so that serving latency stays flat (tfjs in worker
 * threads is unreliable) and a crash or a kill costs only the update.
 *
 * Protocol (daemon/trainer/protocol.ts): one `run` message in; `progress`
 * messages, then one `done` or `error` out; then the process exits. It exits
 * too when the parent goes away (the IPC channel closes).
 */
import { initBackend } from '../../core/index.ts';
import { trainCandidate } from './train.ts';
import { errorToWire, type ChildMessage, type ParentMessage } from './protocol.ts';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) {
      resolve();
      return;
    }
    process.send(message, undefined, {}, () => resolve());
  });
}



async function run(message: ParentMessage): Promise<void> {
  const { job } = message;
  let code = 0;
  try {
    await initBackend({ force: job.backend.name === 'auto' ? undefined : job.backend.name, threads: job.backend.threads ?? undefined });
    const result = await trainCandidate(job, { onProgress: (progress) => void send({ type: 'progress', progress }) });
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
process.once('message', (message: ParentMessage) => {
  if (message?.type === 'run') void run(message);
});
// The parent is gone: nobody is waiting for this update.
process.once('disconnect', () => process.exit(1));
