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
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
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
