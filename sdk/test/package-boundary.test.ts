// The SDK is installable on its own: its sources import only each other, Node built-ins and
// the packages its manifest declares — never server, PD or raft code, never a native module.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(sdkDir, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

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
        assert.ok(
          builtin || allowed.has(name),
          `${file} imports ${spec}, which sdk/package.json does not declare`,
        );
      }
    }
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
