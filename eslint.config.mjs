// ESLint for the adapters and the web page (the app has its own config in
// containers/app/). Same rules: typescript-eslint's type-aware recommended
// set and eslint-plugin-security. Run by run-checks.sh.
import js from '@eslint/js';
import globals from 'globals';
import security from 'eslint-plugin-security';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'containers/app/**', 'eslint.config.mjs', 'containers/web/vite.config.ts', 'containers/kibana/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  security.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      'security/detect-object-injection': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  { files: ['adapters/**'], languageOptions: { globals: globals.node } },
  {
    // A command-line tool whose job is to read the file the user names (and its checkpoint beside it).
    files: ['adapters/csv/src/checkpoint.ts', 'adapters/csv/src/send.ts'],
    rules: { 'security/detect-non-literal-fs-filename': 'off' },
  },
  { files: ['containers/web/**'], languageOptions: { globals: globals.browser } },
  {
    files: ['**/*.spec.ts', 'adapters/*/test/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      'security/detect-non-literal-fs-filename': 'off',
      'security/detect-child-process': 'off',
      'security/detect-non-literal-regexp': 'off',
    },
  },
);
