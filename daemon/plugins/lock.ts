/** The state-lock plugin: one daemon per state directory (`<stateDir>/daemon.lock`, daemon/watch/lock.ts). */
import { lockStateDir } from '../watch/index.ts';
import type { DaemonPlugin } from './context.ts';

/** Takes the state directory's lock (a second daemon fails with `BONSAI_DAEMON_STATE_LOCKED`); its stop releases it. */
export function stateLockPlugin(): DaemonPlugin {
  return {
    name: 'state-lock',
    async start(ctx) {
      const lock = lockStateDir(ctx.stateDir);
      return async () => lock.release();
    },
  };
}
