// Lint rules: typed TypeScript, no `any`, no default exports, the one-way
// import direction between the rooms (docs/architecture.md, "Rooms"; config is
// read by all), a serving-only process that loads nothing of the trainer, and
// no function over 80 lines outside the tests. The other rooms import core/
// through core/index.ts, its public API, or one of its light modules (below).
// config/ imports two modules of core/ and no other: core/errors.ts (BonsaiError
// and its codes, shared by every layer) and core/models/options.ts (each model's
// options, rules and defaults, which config composes into its schema; zod only,
// no tfjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Directories a room must not import from (DESIGN.md, "Layout and dependency
 * direction"): core <- pipelines <- daemon <- report, pipelines <- experiments,
 * and cli over daemon, report and experiments; bench may import any of them.
 */
const forbidden = {
  core: ['pipelines', 'daemon', 'report', 'experiments', 'cli', 'bench'],
  pipelines: ['daemon', 'report', 'experiments', 'cli', 'bench'],
  daemon: ['report', 'experiments', 'cli', 'bench'],
  report: ['experiments', 'cli', 'bench'],
  experiments: ['daemon', 'report', 'cli', 'bench'],
  cli: ['bench'],
  config: ['core', 'pipelines', 'daemon', 'report', 'experiments', 'cli', 'bench'],
};

/**
 * core/index.ts is core/'s public API: the rooms outside core/ and test/ import
 * core/ through it and through no deeper path, except these light modules, which
 * load no tfjs (core/index.ts loads all of core/, tfjs included), for the
 * processes that run without tfjs:
 * - errors.ts, error-codes.ts: BonsaiError and its codes, thrown everywhere, also
 *   in the ingest pipeline's worker threads (pipelines/ingest/pool-worker.ts);
 * - models/options.ts: each model's options, rules and defaults, which config/
 *   composes into its schema (reading the configuration loads no model);
 * - text/alphabet.ts: the transcripts' alphabet, read by the ingest pipeline's
 *   labels (pipelines/labels/transcript.ts), which runs without tfjs in
 *   bench/ingest.ts and in the ingest crash test's child process.
 */
const CORE_LIGHT = ['errors', 'error-codes', 'models/options', 'text/alphabet'];
const deepCore = {
  regex: `(^|/)core/(?!(${['index', ...CORE_LIGHT].join('|')})\\.ts$)`,
  message: `import core/ through core/index.ts, its public API (deep paths only for the light modules ${CORE_LIGHT.map((m) => `core/${m}.ts`).join(', ')}: eslint.config.js).`,
};
/** The rooms that import core/ through core/index.ts (config/ reads only errors.ts and models/options.ts). */
const coreClients = ['pipelines', 'daemon', 'report', 'experiments', 'cli', 'bench', 'deploy'];

const layerRules = [...new Set([...Object.keys(forbidden), ...coreClients])].map((layer) => ({
  files: [`${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...(forbidden[layer] ?? []).map((b) => ({
          // core/errors.ts (BonsaiError) is shared by every layer; core/models/options.ts is read by config.
          regex: b === 'core' ? `(^|/)core/(?!errors\\.ts$|models/options\\.ts$)` : `(^|/)${b}(/|$)`,
          message: `${layer}/ must not import from ${b}/ (the rooms' import direction: docs/architecture.md).`,
        })),
        ...(coreClients.includes(layer) ? [deepCore] : []),
      ],
    }],
  },
}));

/** Nothing inside core/ imports core/index.ts, which imports all of core/ (a cycle). */
const coreIndexCycle = ['core/*.ts', 'core/*/*.ts', 'core/*/*/*.ts'].map((glob, depth) => ({
  files: [glob],
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', {
      patterns: [{
        regex: `^${depth === 0 ? '\\./' : '\\.\\./'.repeat(depth)}index\\.ts$`,
        message: 'core/ must not import core/index.ts (its public API for the other rooms; importing it here is a cycle).',
      }],
    }],
  },
}));

/**
 * The files the serving-only process (`role: server`, daemon/serving-only.ts)
 * loads: they import nothing of daemon/trainer/ but types, which are erased.
 * test/daemon/serving-only-imports.test.ts checks the whole import graph.
 */
const servingOnlyFiles = [
  'daemon/serving-only.ts',
  'daemon/wiring.ts',
  'daemon/lifecycle.ts',
  'daemon/logging.ts',
  'daemon/auth.ts',
  'daemon/speech.ts',
  'daemon/serving/**/*.ts',
  'daemon/server/**/*.ts',
  'daemon/registry/**/*.ts',
  'daemon/metrics/**/*.ts',
  'daemon/plugins/context.ts',
  'daemon/plugins/backend.ts',
  'daemon/plugins/follow.ts',
  'daemon/plugins/http.ts',
  'daemon/plugins/serving.ts',
];

const servingOnlyRule = {
  files: servingOnlyFiles,
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', {
      patterns: [{
        regex: '(^|/)trainer(/|$)',
        allowTypeImports: true,
        message: 'the serving-only process (daemon/serving-only.ts) must not load daemon/trainer/ (type imports are fine).',
      }],
    }],
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'var/**', 'bench/results/**', 'bin/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  ...layerRules,
  ...coreIndexCycle,
  servingOnlyRule,
  // Short functions (issue 14: none over 80 lines outside tests and generated code).
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
);
