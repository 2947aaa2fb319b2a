// ESLint flat config. The block for raft/src is the purity fence of the consensus core:
// no I/O, no clock, no global randomness, no timers, no asynchrony. Everything the core
// needs from the world is passed in (ticks, messages, a seeded random source), which is
// what lets the simulator replay a whole cluster from one seed.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const builtins = builtinModules.filter((name) => !name.startsWith('_'));

/** Globals that reach outside a pure, deterministic, synchronous function. */
const impureGlobals = [
  'Date',
  'Promise',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'clearImmediate',
  'queueMicrotask',
  'process',
  'performance',
  'crypto',
  'fetch',
  'require',
  'Buffer',
  'global',
  'globalThis',
].map((name) => ({
  name,
  message: `raft/src is a pure, deterministic core: '${name}' is not allowed here (inject it from the caller).`,
}));

const pureCoreSyntax = [
  {
    selector: 'MemberExpression[object.name="Math"][property.name="random"]',
    message: 'raft/src must not use Math.random: take randomness from the injected seeded source.',
  },
  {
    selector: ':function[async=true]',
    message: 'raft/src is synchronous: async functions are not allowed.',
  },
  {
    selector: 'AwaitExpression',
    message: 'raft/src is synchronous: await is not allowed.',
  },
  {
    selector: 'Identifier[name="Promise"]',
    message: 'raft/src is synchronous: Promise is not allowed.',
  },
  {
    selector: 'ImportExpression',
    message: 'raft/src must not load modules dynamically.',
  },
  {
    selector: 'MemberExpression[property.name=/^(then|catch|finally)$/]',
    message: 'raft/src is synchronous: promise chains are not allowed.',
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      'coverage/**',
      'proto/src/gen/**',
      'sdk/dist/**',
      '.tmp/**',
      '.data/**',
      'data/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        performance: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['raft/src/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...impureGlobals],
      'no-restricted-syntax': ['error', ...pureCoreSyntax],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', ...builtins, ...builtins.map((name) => `${name}/*`)],
              message: 'raft/src must not import Node.js modules: the core does no I/O.',
            },
          ],
        },
      ],
    },
  },
);
