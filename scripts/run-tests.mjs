#!/usr/bin/env node
// Finds test files for the named suites and runs them with node's built-in test runner
// through tsx. Node 20 cannot expand quoted globs and a bare `--test` finds no .ts files
// yet exits 0, so this script lists the files itself and fails when a suite has none.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Each suite: directories searched and the file suffix that marks a test. */
const suites = {
  unit: {
    dirs: ['proto/test', 'raft/test', 'server/test', 'pd/test', 'sdk/test', 'tests/lint'],
    suffix: '.test.ts',
  },
  integration: { dirs: ['tests/integration'], suffix: '.test.ts' },
  'sim-smoke': {
    dirs: ['tests/chaos/checker', 'tests/chaos/sim', 'tests/chaos/sim-cluster'],
    suffix: '.test.ts',
  },
  'chaos-live': { dirs: ['tests/chaos/live'], suffix: '.test.ts' },
};

const depthMax = 8;

function findFiles(dir, suffix, depth) {
  if (depth > depthMax) throw new Error(`test search deeper than ${depthMax} levels under ${dir}`);
  let names;
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  const found = [];
  for (const name of names.sort()) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findFiles(path, suffix, depth + 1));
    else if (name.endsWith(suffix)) found.push(path);
  }
  return found;
}

const requested = process.argv.slice(2);
if (requested.length === 0) {
  console.error(`usage: run-tests.mjs <suite>... (suites: ${Object.keys(suites).join(', ')})`);
  process.exit(2);
}
const files = [];
for (const name of requested) {
  const suite = suites[name];
  if (!suite) {
    console.error(`unknown test suite '${name}' (known: ${Object.keys(suites).join(', ')})`);
    process.exit(2);
  }
  const suiteFiles = suite.dirs.flatMap((dir) => findFiles(join(root, dir), suite.suffix, 0));
  if (suiteFiles.length === 0) {
    console.error(`test suite '${name}' found no test files under ${suite.dirs.join(', ')}`);
    process.exit(1);
  }
  files.push(...suiteFiles);
}
console.error(`running ${files.length} test files: ${files.map((f) => relative(root, f)).join(' ')}`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', ...files], {
  cwd: root,
  stdio: 'inherit',
});
if (result.error) throw result.error;
process.exit(result.status ?? 1);
