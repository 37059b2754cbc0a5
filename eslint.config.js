// Lint rules. Beyond the recommended sets, the layering is enforced here: the renderer never
// imports Node or Electron, the engine (src/native) never imports Electron or the app, and the
// engine's file formats (src/native/formats) import nothing of the engine above them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'out/**',
      'dist/**',
      'node_modules/**',
      'test-results/**',
      'playwright-report/**',
      '**/bench/out/**',
      'test/fixtures/**',
      'resources/demo/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  {
    files: ['src/renderer/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'electron', '**/main/**', '**/native/**'] }],
    },
  },
  {
    files: ['src/native/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['electron', '**/main/**', '**/renderer/**'] }],
    },
  },
  {
    // formats/ is the engine's ground floor: file formats only, on top of io/ and Node.
    files: ['src/native/formats/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'electron',
            '**/main/**',
            '**/renderer/**',
            '**/models/**',
            '**/bundle/**',
            '**/graph/**',
            '**/training/**',
            '**/cleft/**',
            '**/runtime/**',
          ],
        },
      ],
    },
  },
  {
    files: ['src/common/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'electron', '**/main/**', '**/renderer/**', '**/native/**'] }],
    },
  },
);
