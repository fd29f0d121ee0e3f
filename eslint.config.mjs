// ESLint (flat config): typescript-eslint's strict rules, with the few this code base decides
// otherwise (each says why). Layout is prettier's (.prettierrc.json); max-len catches what prettier
// cannot wrap (comments, long identifiers), strings and URLs excepted.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const node = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    '__dirname',
    '__filename',
    'require',
    'module',
    'exports',
    'URL',
    'fetch',
    'AbortSignal',
  ]
    .concat(['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate'])
    .map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'connectors/console/assets/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: node },
    rules: {
      'max-len': [
        'error',
        { code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true },
      ],
      // The code runs with noUncheckedIndexedAccess: `!` marks an index the line before proved present.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `_name` is the house spelling of a parameter a signature needs but the body does not use.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Knex rows are untyped at the edge: each repository maps them to a declared type in one place.
    files: ['connectors/postgres/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Tests and deploy scripts read JSON and YAML documents (manifests, API bodies) without a schema.
    files: ['tests/**/*.ts', 'tests/**/*.tsx', 'deploy/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // CommonJS entry points (the CLI's bin, jest's configs).
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
