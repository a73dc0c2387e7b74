/** Public API of config/: the schema with every default, and the loader. */
export { configSchema, MODEL_NAMES, BACKEND_NAMES, LOG_LEVELS } from './schema.ts';
export type { Config, ConfigShape, ConfigInput, DeepReadonly } from './schema.ts';
export { loadConfig, parseConfig, defaultConfig, deepFreeze, expandHome, ENV_ALIASES, FLAG_KEYS, CONFIG_FILE_ENV } from './load.ts';
export type { LoadOptions, StartFlags, Problem } from './load.ts';
export { LEAF_KEYS, envNameOf, leafAt, leafOfEnv } from './keys.ts';
export type { LeafKey, LeafKind } from './keys.ts';
