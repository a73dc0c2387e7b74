/** Public API of the model registry (`<stateDir>/models/`). */
export { openRegistry, ModelRegistry, CURRENT_FILE } from './registry.ts';
export type { ChampionRestore, RegistryOptions, ModelVersion, VerifyReport } from './registry.ts';
export { VERSION_STATES, TRANSITIONS, assertTransition, canTransition } from './states.ts';
export type { VersionState } from './states.ts';
export { MANIFEST_FILE, MANIFEST_FORMAT, manifestSchema, manifestInputSchema } from './manifest.ts';
export type { Manifest, ManifestInput } from './manifest.ts';
export { HISTORY_FILE, HISTORY_EVENTS, championStack } from './history.ts';
export type { HistoryEntry } from './history.ts';
export { intactChampion, fallbackOrder, firstIntact, problemsOf } from './intact.ts';
export type { IntactChoice, SkippedVersion } from './intact.ts';
