import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A lint rule for `files` that refuses imports of the project's top-level modules `forbidden`. */
function boundary(files, forbidden, why) {
  return [
    {
      files: [files],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: forbidden.map((dir) => ({
              group: [`**/${dir}/**`, `../${dir}/*`, `../../${dir}/*`],
              message: `${files.split('/')[0]}/ must not import ${dir}/: ${why}.`,
            })),
          },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'proto/generated/**'] },
  js.configs.recommended,
  // Type-checked rules (no-floating-promises, no-misused-promises, await-thenable, ...): they
  // read the types through the TypeScript project service.
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    rules: {
      // Off on purpose: Reconciler, Runnable.run, handlers and fakes implement Promise-returning
      // interfaces, and `async` without an await is the way to do that (a throw becomes a
      // rejection). The promise rules that catch real bugs (no-floating-promises,
      // no-misused-promises, await-thenable, return-await) stay on.
      '@typescript-eslint/require-await': 'off',
      // Passing on a caught `unknown` is fine; rejecting with a literal non-Error is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  {
    // Plain JavaScript (this file, jest configs, .mjs fixtures) is not in the TypeScript project.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Plain ES modules that Node runs as they are (stand-in images, the DNS shim, fixtures).
    files: ['**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  // Module boundaries (docs/decisions/0007-module-boundaries.md): the operator and the adapter
  // share only contract/ and control/; control/ knows neither them nor the contract; contract/
  // imports nothing of ours. Crossing one fails the lint.
  ...boundary('operator/**', ['adapter'], 'the operator and the adapter share only contract/ and control/'),
  ...boundary('adapter/**', ['operator'], 'the operator and the adapter share only contract/ and control/'),
  ...boundary('control/**', ['operator', 'adapter', 'contract'], 'control/ is a generic protocol library'),
  ...boundary('contract/**', ['operator', 'adapter', 'control'], 'contract/ depends on zod alone'),
  {
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
