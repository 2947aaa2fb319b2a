// The SDK as an application installs it: `npm pack -w sdk` (which builds sdk/dist), the
// tarball unpacked into an empty directory whose node_modules holds only the runtime
// dependencies the packed manifest declares (linked from this repository's node_modules:
// the test downloads nothing), then plain `node` — no tsx — imports the package and talks
// to a real cluster (a PD member and a store, real processes). Also type-checks a small
// consumer against the packed declarations.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as sourceSdk from '../../sdk/src/index.js';
import type { FlotillaClient } from '../../sdk/src/index.js';
import { PdProcesses } from '../support/pd-processes.js';
import { StoreProcesses } from '../support/store-processes.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** What the package may depend on at run time: pure JavaScript, no Flotilla workspace, no native module. */
const RUNTIME_DEPENDENCIES_ALLOWED = new Set([
  '@bufbuild/protobuf',
  '@grpc/grpc-js',
  '@opentelemetry/api',
  'p-queue',
]);
/** Generous: packing builds the SDK with tsc on a busy 2-core machine. */
const PACK_TIMEOUT_MS = 300_000;
const CHILD_TIMEOUT_MS = 60_000;

interface PackedManifest {
  name: string;
  type?: string;
  engines?: { node?: string };
  exports: Record<string, { types?: string; default?: string } | string>;
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** Runs `node file args` without tsx; resolves with stdout, rejects with stderr on failure. */
function runPlainNode(file: string, args: string[], cwd: string): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [file, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (c: string) => out.push(c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => err.push(c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${file} ran longer than ${CHILD_TIMEOUT_MS} ms:\n${err.join('')}`));
    }, CHILD_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.join(''));
      else reject(new Error(`node ${file} exited with ${code ?? signal}:\n${out.join('')}\n${err.join('')}`));
    });
  });
}

/** Links node_modules/<name> in `dir` to the repository's installed copy. */
function linkDependency(dir: string, name: string, target = join(repoRoot, 'node_modules', name)): void {
  const link = join(dir, 'node_modules', name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link, 'dir');
}

describe('the packed SDK package', { timeout: 900_000 }, () => {
  let workDir: string;
  let packageDir: string;
  let manifest: PackedManifest;
  let pds: PdProcesses | undefined;
  let stores: StoreProcesses | undefined;

  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'flotilla-sdk-package-'));
    const packed = spawnSync('npm', ['pack', '-w', 'sdk', '--pack-destination', workDir, '--json'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: PACK_TIMEOUT_MS,
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
    });
    assert.equal(packed.status, 0, `npm pack failed:\n${packed.stdout}\n${packed.stderr}`);
    // The JSON report is the last thing npm prints; lifecycle scripts may print before it.
    const report = packed.stdout.slice(Math.max(0, packed.stdout.search(/^\[/m)));
    const [info] = JSON.parse(report) as Array<{ filename: string }>;
    assert.ok(info, 'npm pack described the tarball');
    const untar = spawnSync('tar', ['-xzf', join(workDir, info.filename), '-C', workDir], {
      encoding: 'utf8',
    });
    assert.equal(untar.status, 0, untar.stderr);
    packageDir = join(workDir, 'package');
    manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as PackedManifest;
    // An application's node_modules: the package and exactly the dependencies it declares.
    linkDependency(workDir, '@flotilla/sdk', packageDir);
    for (const dep of Object.keys(manifest.dependencies ?? {})) linkDependency(workDir, dep);
  });

  after(async () => {
    await stores?.stopAll();
    await pds?.stopAll();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  it('declares only pure-JavaScript runtime dependencies and ships built ESM with declarations', () => {
    assert.equal(manifest.name, '@flotilla/sdk');
    assert.equal(manifest.type, 'module');
    assert.match(manifest.engines?.node ?? '', /^>=20/);
    for (const dep of Object.keys(manifest.dependencies ?? {}))
      assert.ok(RUNTIME_DEPENDENCIES_ALLOWED.has(dep), `the package depends on ${dep}`);
    assert.ok(
      !Object.keys(manifest.scripts ?? {}).some((s) => /^(pre|post)?install$/.test(s)),
      'no install scripts',
    );
    const entry = manifest.exports['.'];
    assert.ok(typeof entry === 'object' && entry.types !== undefined && entry.default !== undefined);
    const files = listFiles(packageDir).map((f) => relative(packageDir, f));
    assert.ok(
      files.includes(entry.types.replace(/^\.\//, '')),
      `types entry ${entry.types} is in the tarball`,
    );
    assert.ok(files.includes(entry.default.replace(/^\.\//, '')), `entry ${entry.default} is in the tarball`);
    assert.ok(files.includes('dist/proto/index.js') && files.includes('dist/proto/index.d.ts'));
    for (const file of files) {
      assert.ok(
        !file.endsWith('.ts') || file.endsWith('.d.ts'),
        `${file}: TypeScript sources are not shipped`,
      );
      assert.ok(!file.endsWith('.node'), `${file}: no native module`);
      if (!/\.(m?js|d\.ts)$/.test(file)) continue;
      const text = readFileSync(join(packageDir, file), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1] as string;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string);
        assert.ok(
          RUNTIME_DEPENDENCIES_ALLOWED.has(name) || name === '@flotilla/sdk',
          `${file} imports ${spec}, which is not a declared runtime dependency`,
        );
      }
    }
  });

  it('type-checks an application against the packed declarations', () => {
    linkDependency(workDir, '@types/node');
    writeFileSync(
      join(workDir, 'consumer.ts'),
      [
        "import { createClient, ResultUnknownError, type ClientStats, type FlotillaClient } from '@flotilla/sdk';",
        "const client: FlotillaClient = await createClient({ pdEndpoints: ['127.0.0.1:1'], coalesce: true });",
        "const value: Buffer | undefined = await client.get('k', { consistency: 'lease', timeoutMs: 10 });",
        "const swapped: boolean = (await client.compareAndSwap('k', null, 'v')).succeeded;",
        'const stats: ClientStats = client.stats();',
        'const unknown: boolean = new ResultUnknownError("x").retryable;',
        '// The declarations are precise, not `any`: a misspelt option is an error.',
        '// @ts-expect-error pdEndpoint is not an option',
        'await createClient({ pdEndpoint: [] });',
        'export { value, swapped, stats, unknown };',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(workDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(join(workDir, 'package.json'), JSON.stringify({ name: 'sdk-consumer', type: 'module' }));
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = spawnSync(process.execPath, [tsc, '-p', workDir], { cwd: workDir, encoding: 'utf8' });
    assert.equal(checked.status, 0, `tsc on the consumer failed:\n${checked.stdout}\n${checked.stderr}`);
  });

  it('plain node imports the packed package: the same public API as the sources', async () => {
    writeFileSync(
      join(workDir, 'exports.mjs'),
      "import * as sdk from '@flotilla/sdk';\nconsole.log(JSON.stringify(Object.keys(sdk).sort()));\n",
    );
    const out = await runPlainNode(join(workDir, 'exports.mjs'), [], workDir);
    assert.deepEqual(JSON.parse(out), Object.keys(sourceSdk).sort());
  });

  it('plain node runs the packed package and its example against a real cluster', async () => {
    pds = await PdProcesses.create([1]);
    await pds.startAll();
    stores = await StoreProcesses.createWithPd([1], pds.endpoints());
    await stores.start(1);
    const endpoint = pds.endpoints()[0] as string;
    writeFileSync(
      join(workDir, 'app.mjs'),
      [
        "import { createClient, InvalidArgumentError, FlotillaError } from '@flotilla/sdk';",
        'const client = await createClient({ pdEndpoints: process.argv.slice(2), timeoutMs: 20_000 });',
        'try {',
        "  await client.put('packed/a', 'A');",
        "  await client.batchPut([['packed/b', 'B'], ['packed/c', 'C']]);",
        "  const cas = await client.compareAndSwap('packed/a', 'A', 'A2');",
        '  const keys = [];',
        "  for await (const { key } of client.scan({ start: 'packed/', end: 'packed0' })) keys.push(key.toString());",
        "  const invalid = await client.get('').catch((e) => e instanceof InvalidArgumentError && e instanceof FlotillaError && e.code);",
        "  console.log(JSON.stringify({ a: (await client.get('packed/a'))?.toString(), cas: cas.succeeded, keys, invalid, rpcs: client.stats().rpcs > 0 }));",
        '} finally {',
        '  await client.close();',
        '}',
        '',
      ].join('\n'),
    );
    const out = await runPlainNode(join(workDir, 'app.mjs'), [endpoint], workDir);
    assert.deepEqual(JSON.parse(out), {
      a: 'A2',
      cas: true,
      keys: ['packed/a', 'packed/b', 'packed/c'],
      invalid: 'INVALID_ARGUMENT',
      rpcs: true,
    });
    // What the packed client wrote is in the cluster: the repository's SDK reads it back.
    let client: FlotillaClient | undefined;
    try {
      client = await sourceSdk.createClient({ pdEndpoints: [endpoint], timeoutMs: 20_000 });
      assert.equal((await client.get('packed/b'))?.toString(), 'B');
    } finally {
      await client?.close();
    }
    // The example shipped in the package runs as documented.
    const example = await runPlainNode(join(packageDir, 'examples', 'quickstart.mjs'), [endpoint], workDir);
    assert.match(example, /user\/1 = \{"name":"Ada"\}/);
    assert.match(example, /counter swapped: true/);
    assert.match(example, /fruit\/banana => yellow/);
    assert.match(example, /reverse fruit\/apple/);
  });
});
