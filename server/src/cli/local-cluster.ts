// `npm start`: a local cluster with embedded defaults, every member its own process with its
// own LevelDB directory under data/local-cluster/: 3 Placement Driver members (ports 2379-2381)
// and 3 stores (ports 20161-20163). The first store bootstraps the cluster with one region;
// PD adds the other replicas, and regions split as data grows. Data survives restarts of
// the command. Ctrl-C stops every store cleanly (each hands over its leaderships first), then
// the PD members. Options: --stores N (default 3), --pd-members N (1 or 3, default 3),
// --base-port P (stores; default 20161), --pd-base-port P (default 2379), --data-dir DIR.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatClusterSpec } from './cluster-spec.js';

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: '3' },
    'pd-members': { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '20161' },
    'pd-base-port': { type: 'string', default: '2379' },
    'data-dir': { type: 'string', default: 'data/local-cluster' },
  },
});

const storesCount = Number(values.stores);
const pdCount = Number(values['pd-members']);
const basePort = Number(values['base-port']);
const pdBasePort = Number(values['pd-base-port']);
function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
if (!Number.isSafeInteger(storesCount) || storesCount < 1 || storesCount > 7)
  fail(`--stores must be between 1 and 7, got '${values.stores}'`);
if (pdCount !== 1 && pdCount !== 3) fail(`--pd-members must be 1 or 3, got '${values['pd-members']}'`);
for (const [name, port, count] of [
  ['--base-port', basePort, storesCount],
  ['--pd-base-port', pdBasePort, pdCount],
] as const) {
  if (!Number.isSafeInteger(port) || port < 1024 || port + count > 65535)
    fail(`${name} must leave room for ${count} ports in [1024, 65535], got '${port}'`);
}

const flotillaMain = fileURLToPath(new URL('./flotilla.ts', import.meta.url));
const dataDir = resolve(values['data-dir']);
const pdMembers = new Map<number, string>();
for (let id = 1; id <= pdCount; id++) pdMembers.set(id, `127.0.0.1:${pdBasePort + id - 1}`);
const pdEndpoints = [...pdMembers.values()].join(',');
const storeAddresses: string[] = [];
for (let i = 0; i < storesCount; i++) storeAddresses.push(`127.0.0.1:${basePort + i}`);

const pdChildren = new Map<string, ChildProcess>();
const storeChildren = new Map<string, ChildProcess>();
let stopping = false;

function launch(name: string, args: string[], group: Map<string, ChildProcess>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', flotillaMain, ...args], {
    // Own process group: a terminal's Ctrl-C reaches only this process, which stops each
    // member with one SIGTERM (a store takes a second signal as "exit now").
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  group.set(name, child);
  child.stderr
    ?.setEncoding('utf8')
    .on('data', (chunk: string) => process.stderr.write(prefixLines(name, chunk)));
  child.on('exit', (code, signal) => {
    group.delete(name);
    if (!stopping) console.error(`[${name}] exited (${code ?? signal}); the others keep running`);
    if (pdChildren.size + storeChildren.size === 0) process.exit(stopping ? 0 : 1);
  });
  return new Promise((resolveReady) => {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      process.stdout.write(prefixLines(name, chunk));
      if (chunk.includes('READY')) resolveReady();
    });
  });
}

await Promise.all(
  [...pdMembers].map(([id]) =>
    launch(
      `pd ${id}`,
      [
        'pd',
        '--member-id',
        String(id),
        '--data-dir',
        join(dataDir, `pd-${id}`),
        '--initial-cluster',
        formatClusterSpec(pdMembers),
      ],
      pdChildren,
    ),
  ),
);
const storeArgs = (i: number): string[] => [
  'server',
  '--pd-endpoints',
  pdEndpoints,
  '--listen',
  storeAddresses[i] as string,
  '--data-dir',
  join(dataDir, `store-${i + 1}`),
];
// The first store alone: on a fresh data directory it bootstraps the cluster.
await launch('store 1', storeArgs(0), storeChildren);
await Promise.all(
  storeAddresses.slice(1).map((_, i) => launch(`store ${i + 2}`, storeArgs(i + 1), storeChildren)),
);

console.log(`Flotilla local cluster: ${pdCount} PD member(s), ${storesCount} store(s), data in ${dataDir}`);
console.log(`  PD:     ${pdEndpoints}`);
console.log(`  stores: ${storeAddresses.join(',')}`);
console.log(`  try:    npm run flotilla -- put hello world && npm run flotilla -- get hello`);
console.log(`          npm run flotilla -- status`);
console.log('  Ctrl-C stops the cluster; data is kept for the next start.');

function prefixLines(name: string, chunk: string): string {
  return chunk
    .split('\n')
    .map((line, i, all) => (line.length === 0 && i === all.length - 1 ? '' : `[${name}] ${line}\n`))
    .join('');
}

/** Stores first (they hand over leadership and report to PD while stopping), then PD. */
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  console.error(`stopping ${storeChildren.size} store(s), then ${pdChildren.size} PD member(s)...`);
  for (const child of storeChildren.values()) child.kill('SIGTERM');
  const stopPd = (): void => {
    for (const child of pdChildren.values()) child.kill('SIGTERM');
  };
  if (storeChildren.size === 0) stopPd();
  else
    for (const child of storeChildren.values())
      child.on('exit', () => {
        if (storeChildren.size === 0) stopPd();
      });
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
// Detached members would outlive this process if it died of an error: take them along.
process.on('exit', () => {
  for (const child of [...storeChildren.values(), ...pdChildren.values()]) child.kill('SIGTERM');
});
