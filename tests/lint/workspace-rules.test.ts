// Pins the repository rules that keep the packages separable: the SDK must stay
// installable by an application on its own (no server/PD code, no native modules), the
// raft core depends on nothing, and every package targets Node >= 20 under strict TypeScript.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface PackageJson {
  name: string;
  workspaces?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

function readJson<T>(relativePath: string): T {
  return JSON.parse(readFileSync(`${root}${relativePath}`, 'utf8')) as T;
}

const rootPackage = readJson<PackageJson>('package.json');
const workspaces = rootPackage.workspaces ?? [];

/** Packages known to need a native addon or to be server-side only. */
const nativeOrServerOnly = [
  'classic-level',
  'leveldown',
  'lmdb',
  'better-sqlite3',
  '@flotilla/server',
  '@flotilla/pd',
];

function allDependencies(pkg: PackageJson): string[] {
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
}

describe('workspace rules', () => {
  it('declares the raft, server, pd, sdk and proto workspaces', () => {
    for (const name of ['raft', 'server', 'pd', 'sdk', 'proto']) {
      assert.ok(workspaces.includes(name), `workspace '${name}' missing from package.json`);
    }
  });

  it('requires Node >= 20 in every package and pins @types/node to major 20', () => {
    for (const dir of ['.', ...workspaces]) {
      const pkg = readJson<PackageJson>(`${dir}/package.json`);
      assert.match(pkg.engines?.node ?? '', /^>=20(\.\d+)*$/, `${pkg.name}: engines.node must be >=20`);
    }
    assert.match(rootPackage.devDependencies?.['@types/node'] ?? '', /^20\.\d+\.\d+$/);
  });

  it('keeps the SDK free of server, PD and native-module dependencies', () => {
    const sdk = readJson<PackageJson>('sdk/package.json');
    const bad = allDependencies(sdk).filter((dep) => nativeOrServerOnly.includes(dep));
    assert.deepEqual(bad, [], `sdk depends on ${bad.join(', ')}`);
  });

  it('keeps the raft core free of runtime dependencies', () => {
    const raft = readJson<PackageJson>('raft/package.json');
    assert.deepEqual(allDependencies(raft), []);
  });

  it('compiles under strict TypeScript with unchecked index access forbidden', () => {
    const tsconfig = readJson<{ compilerOptions: Record<string, unknown> }>('tsconfig.json');
    assert.equal(tsconfig.compilerOptions['strict'], true);
    assert.equal(tsconfig.compilerOptions['noUncheckedIndexedAccess'], true);
    assert.equal(tsconfig.compilerOptions['module'], 'NodeNext');
  });
});
