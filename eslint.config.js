// ESLint flat config: https://eslint.org/docs/latest/use/configure/configuration-files
// Type-aware rules come from typescript-eslint (https://typescript-eslint.io/getting-started/typed-linting),
// which reads the types through tsconfig.json. Formatting is Prettier's (`npm run lint` checks it), so
// eslint-config-prettier switches off every rule that would disagree with it.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'keys/', 'coverage/', '.test-tmp/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        projectService: {
          // The JavaScript entry points are outside tsconfig.json; lint them with its options.
          allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/*.js'],
          defaultProject: 'tsconfig.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Off: an async function without await is how this code implements a Promise-returning
      // interface (the store backends, oidc-provider hooks, test doubles); `async` also turns a
      // synchronous throw into a rejection, which callers of those interfaces expect.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it/test return promises the runner itself awaits.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }],
        },
      ],
      // Rethrowing what a catch or a callback handed over (typed unknown) is not throwing a literal.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      // URLSearchParams stringifies to its query string, which is what query-building templates want.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'package', package: '@types/node', name: ['URL', 'URLSearchParams'] },
          ],
        },
      ],
    },
  },
  {
    // Plain JavaScript has no annotations, so every parameter is `any`; tests read JSON bodies and
    // library callbacks typed `any` and check their shape with assertions at run time. The
    // no-unsafe-* rules would flag every such use; TypeScript under src/ keeps them.
    files: ['**/*.js', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The DingTalk in-app sign-in page's script (views/assets) runs in the browser, outside tsconfig.json.
    files: ['views/assets/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.browser, parserOptions: { projectService: false } },
  },
  prettier,
);
