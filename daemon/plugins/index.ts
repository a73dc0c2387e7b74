/** The daemon's parts as plugins over one context; `startDaemon` and `startServing` compose them. */
export { DaemonContext, lifecyclePlugins, nothingToStop } from './context.ts';
export type { DaemonParts, DaemonPlugin, DaemonServices, PartName, Stop } from './context.ts';
export { stateLockPlugin } from './lock.ts';
export { backendPlugin } from './backend.ts';
export { storePlugin, StoreGauges } from './store.ts';
export { registryPlugin } from './registry.ts';
export { servingPlugin, serveChampion } from './serving.ts';
export type { ServingPluginOptions } from './serving.ts';
export { prequentialPlugin } from './prequential.ts';
export { httpPlugin } from './http.ts';
export type { HttpRoutes } from './http.ts';
export { updatesPlugin } from './updates.ts';
export type { UpdatesPluginOptions } from './updates.ts';
export { watcherPlugin } from './watcher.ts';
export type { WatcherPluginOptions } from './watcher.ts';
export { ChampionFollower, followedRegistryPlugin, followPlugin } from './follow.ts';
