// Lint rules: typed TypeScript, no `any`, no default exports, the one-way
// import direction between the rooms (docs/architecture.md, "Rooms"; config is
// read by all), a serving-only process that loads nothing of the trainer, and
// no function over 80 lines outside the tests. config/ imports two modules of
// core/ and no other: core/errors.ts (BonsaiError and its codes, shared by every
// layer) and core/models/options.ts (each model's options, rules and defaults,
// which config composes into its schema; zod only, no tfjs).
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

const layerRules = Object.entries(forbidden).map(([layer, banned]) => ({
  files: [`${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: banned.map((b) => ({
        // core/errors.ts (BonsaiError) is shared by every layer; core/models/options.ts is read by config.
        regex: b === 'core' ? `(^|/)core/(?!errors\\.ts$|models/options\\.ts$)` : `(^|/)${b}(/|$)`,
        message: `${layer}/ must not import from ${b}/ (the rooms' import direction: docs/architecture.md).`,
      })),
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
  servingOnlyRule,
  // Short functions (issue 14: none over 80 lines outside tests and generated code).
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
);
