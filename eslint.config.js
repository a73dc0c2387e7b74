// Lint rules: typed TypeScript, no `any`, no default exports, the one-way
// import direction core <- pipelines <- daemon <- cli (config is read by all),
// and no function over 80 lines outside the tests. config/ imports
// two modules of core/ and no other: core/errors.ts (BonsaiError and its codes,
// shared by every layer) and core/models/options.ts (each model's options, rules
// and defaults, which config composes into its schema; zod only, no tfjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Directories a layer must not import from (DESIGN.md, "Layout and dependency direction"). */
const forbidden = {
  core: ['pipelines', 'daemon', 'cli', 'bench'],
  pipelines: ['daemon', 'cli', 'bench'],
  daemon: ['cli', 'bench'],
  config: ['core', 'pipelines', 'daemon', 'cli', 'bench'],
};

const layerRules = Object.entries(forbidden).map(([layer, banned]) => ({
  files: [`${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: banned.map((b) => ({
        // core/errors.ts (BonsaiError) is shared by every layer; core/models/options.ts is read by config.
        regex: b === 'core' ? `(^|/)core/(?!errors\\.ts$|models/options\\.ts$)` : `(^|/)${b}(/|$)`,
        message: `${layer}/ must not import from ${b}/ (import direction core <- pipelines <- daemon <- cli).`,
      })),
    }],
  },
}));

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
  // Short functions (issue 14: none over 80 lines outside tests and generated code).
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }] },
  },
);
