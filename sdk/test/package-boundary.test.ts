// The SDK is installable on its own: its sources import only each other, Node built-ins and
// the packages its manifest declares — never server, PD or raft code, never a native module.
// The one exception is src/wire.ts, the seam to the protocol workspace (@flotilla/proto, a
// devDependency): the build replaces it with the protocol code compiled into the package
// (tests/integration/sdk-package.test.ts checks the packed result).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
};
/** The only file that may import the protocol workspace, and the only workspace it may import. */
const WIRE_FILE = 'wire.ts';
const PROTOCOL_WORKSPACE = '@flotilla/proto';

function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g))
    found.push(m[1] as string);
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1] as string);
  return found;
}

describe('package boundary', () => {
  it('sdk/src imports only its own files, node built-ins and declared dependencies', () => {
    const allowed = new Set(Object.keys(manifest.dependencies));
    const files = readdirSync(join(sdkDir, 'src')).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 10);
    for (const file of files) {
      for (const spec of specifiers(readFileSync(join(sdkDir, 'src', file), 'utf8'))) {
        if (spec.startsWith('./')) {
          assert.ok(!spec.includes('..'), `${file} imports ${spec}`);
          continue;
        }
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string);
        const builtin = spec.startsWith('node:') || builtinModules.includes(name);
        const wire = file === WIRE_FILE && name === PROTOCOL_WORKSPACE;
        assert.ok(
          builtin || allowed.has(name) || wire,
          `${file} imports ${spec}, which sdk/package.json does not declare`,
        );
      }
    }
  });

  it('reaches the protocol only through src/wire.ts, and only at build time', () => {
    const wire = readFileSync(join(sdkDir, 'src', WIRE_FILE), 'utf8');
    assert.deepEqual(specifiers(wire), [PROTOCOL_WORKSPACE]);
    assert.equal(manifest.dependencies[PROTOCOL_WORKSPACE], undefined, 'not a runtime dependency');
    assert.ok(manifest.devDependencies?.[PROTOCOL_WORKSPACE] !== undefined, 'a build-time dependency');
  });

  it('declares no server, PD, raft or native-module dependency', () => {
    for (const dep of Object.keys(manifest.dependencies)) {
      assert.ok(
        !['@flotilla/server', '@flotilla/pd', '@flotilla/raft', 'classic-level', 'lmdb'].includes(dep),
        dep,
      );
    }
  });
});
