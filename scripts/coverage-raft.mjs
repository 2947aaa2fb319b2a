#!/usr/bin/env node
// Line coverage of the Raft core (raft/src) by its own unit tests, through c8 (Node 20's
// test runner cannot restrict coverage to a directory). Fails below the floor.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const linesPercentMin = 90;

const tests = readdirSync(`${root}raft/test`)
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `raft/test/${name}`);
if (tests.length === 0) {
  console.error('no raft/test/*.test.ts files found');
  process.exit(1);
}
const result = spawnSync(
  'npx',
  [
    'c8',
    '--include=raft/src/**',
    '--reporter=text',
    '--reporter=text-summary',
    '--check-coverage',
    `--lines=${linesPercentMin}`,
    process.execPath,
    '--import',
    'tsx',
    '--test',
    '--test-reporter=dot',
    ...tests,
  ],
  { cwd: root, stdio: 'inherit' },
);
if (result.error) throw result.error;
process.exit(result.status ?? 1);
