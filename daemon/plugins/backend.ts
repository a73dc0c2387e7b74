/** The backend plugin: the compute backend config `backend` names (core/backend.ts), loaded once per process. */
import { backendInfo, initBackend } from '../../core/index.ts';
import { nothingToStop, type DaemonPlugin } from './context.ts';

/** Loads the backend (or keeps the one this process already loaded) and reports it in `bonsai_build_info`. */
export function backendPlugin(): DaemonPlugin {
  return {
    name: 'backend',
    async start({ config, metrics, log }) {
      const b = config.backend;
      const info = backendInfo() ?? await initBackend({ force: b.name === 'auto' ? undefined : b.name, threads: b.threads ?? undefined });
      metrics.setBuildInfo({ backend: info.name });
      log.info('backend.ready', { backend: info.name, threads: info.threads, reason: info.reason });
      return nothingToStop;
    },
  };
}
