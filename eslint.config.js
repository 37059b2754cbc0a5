// Lint rules. Beyond the recommended sets, the layering is enforced here: the renderer never
// imports Node or Electron, the engine (src/native) never imports Electron or the app, and the
// viewer and the model pipeline share imaging math only through src/common/imaging, and the
// engine's file formats (src/native/formats) import nothing of the engine above them; relative
// imports are written one way, without a suffix.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';

// The imaging facts (VOI windowing, modality/VOI LUTs, the chest-wall rule) are defined once, in
// src/common/imaging. Everywhere else in src/ this rule reports: a function (declared, or a const
// arrow/function expression) named like one of its exports (a second definition), an import of such a name from any other module or a
// re-export of it (one path to the definition), and the VOI function names 'SIGMOID' /
// 'LINEAR_EXACT' as literals (code that implements or branches on a window function), except in the
// phantom writer, which writes them into headers. A local rule rather than no-restricted-syntax,
// whose options a later config block for the same files would silently replace.
const ROOT = path.dirname(fileURLToPath(import.meta.url));
const IMAGING_DIR = 'src/common/imaging';
const imagingExports = new Map(
  fs
    .readdirSync(path.join(ROOT, IMAGING_DIR))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) =>
      [...fs.readFileSync(path.join(ROOT, IMAGING_DIR, f), 'utf8').matchAll(/^export (?:function|const) (\w+)/gm)].map((m) => [
        m[1],
        `${IMAGING_DIR}/${f}`,
      ]),
    ),
);
const VOI_LITERALS = new Set(['SIGMOID', 'LINEAR_EXACT']);
const VOI_LITERALS_ALLOWED = ['src/main/dicom/phantom/'];
const imagingFromCommon = {
  meta: { type: 'problem', schema: [] },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const fromImaging = (source) => /(^|\/)common\/imaging\/[\w-]+(\.[jt]s)?$/.test(source);
    const definedTwice = (node, name) => {
      if (imagingExports.has(name))
        context.report({
          node,
          message: `'${name}' is defined in ${imagingExports.get(name)}: import it from there instead of writing it again.`,
        });
    };
    const viaOtherModule = (node, name, source) => {
      if (imagingExports.has(name) && !fromImaging(source))
        context.report({
          node,
          message: `'${name}' comes from ${imagingExports.get(name)}: import it from there, not through '${source}'.`,
        });
    };
    return {
      FunctionDeclaration(node) {
        if (node.id) definedTwice(node.id, node.id.name);
      },
      VariableDeclarator(node) {
        const fn = node.init && /^(ArrowFunctionExpression|FunctionExpression)$/.test(node.init.type);
        if (node.id.type === 'Identifier' && fn) definedTwice(node.id, node.id.name);
      },
      ImportDeclaration(node) {
        for (const s of node.specifiers)
          if (s.type === 'ImportSpecifier' && s.imported.type === 'Identifier') viaOtherModule(s, s.imported.name, node.source.value);
      },
      ExportNamedDeclaration(node) {
        if (!node.source) return;
        for (const s of node.specifiers)
          if (s.local.type === 'Identifier' && imagingExports.has(s.local.name))
            context.report({
              node: s,
              message: `'${s.local.name}' re-exported: import it from ${imagingExports.get(s.local.name)} directly.`,
            });
      },
      Literal(node) {
        if (VOI_LITERALS.has(node.value) && !VOI_LITERALS_ALLOWED.some((p) => file.startsWith(p)))
          context.report({
            node,
            message: `VOI function '${node.value}': window functions are implemented in ${IMAGING_DIR}/voi.ts; use VoiFunction and its helpers.`,
          });
      },
    };
  },
};

// One import style: relative imports name modules without a suffix (`./ops`, not `./ops.js`);
// TypeScript (moduleResolution Bundler), vite, vitest and tsx all resolve them. A local rule rather
// than no-restricted-syntax, whose options the SQL block for src/main would silently replace.
const RELATIVE_JS = /^\.{1,2}\/.*\.js$/;
const importExtensionless = {
  meta: { type: 'suggestion', schema: [] },
  create(context) {
    const check = (source) => {
      if (source && source.type === 'Literal' && typeof source.value === 'string' && RELATIVE_JS.test(source.value))
        context.report({
          node: source,
          message: `Import '${source.value.slice(0, -3)}' without the '.js' suffix: relative imports are extensionless here.`,
        });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};
const cleftRules = { rules: { 'imaging-from-common': imagingFromCommon, 'import-extensionless': importExtensionless } };

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
    // SQL lives in src/main/db (repositories named for what they answer); the rest of main calls them.
    files: ['src/main/**'],
    ignores: ['src/main/db/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'better-sqlite3', message: 'SQL lives in src/main/db: add a repository function there.' }] },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='prepare']",
          message: 'SQL lives in src/main/db: add a repository function there.',
        },
        {
          selector:
            'CallExpression[callee.property.name=/^(exec|pragma)$/][arguments.0.type=/^(Literal|TemplateLiteral)$/]:not([callee.object.regex])',
          message: 'SQL lives in src/main/db: add a repository function there.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.svelte'],
    ignores: [`${IMAGING_DIR}/**`],
    plugins: { cleft: cleftRules },
    rules: { 'cleft/imaging-from-common': 'error' },
  },
  {
    files: ['**/*.ts', '**/*.svelte'],
    plugins: { cleft: cleftRules },
    rules: { 'cleft/import-extensionless': 'error' },
  },
  {
    files: ['src/common/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['node:*', 'electron', '**/main/**', '**/renderer/**', '**/native/**'] }],
    },
  },
);
