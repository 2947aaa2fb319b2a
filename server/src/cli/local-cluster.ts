// `npm start`: a local 3-store cluster with embedded defaults, each store its own
// `flotilla server` process with its own LevelDB directory under data/local-cluster/.
// Data survives restarts of the command. Ctrl-C stops every store cleanly (each hands over
// its leaderships first). Options: --stores N (default 3), --base-port P
// (default 20161), --data-dir DIR.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatClusterSpec } from './cluster-spec.js';

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: '3' },
    'base-port': { type: 'string', default: '20161' },
    'data-dir': { type: 'string', default: 'data/local-cluster' },
  },
});

const storesCount = Number(values.stores);
const basePort = Number(values['base-port']);
if (!Number.isSafeInteger(storesCount) || storesCount < 1 || storesCount > 7) {
  console.error(`--stores must be between 1 and 7, got '${values.stores}'`);
  process.exit(2);
}
if (!Number.isSafeInteger(basePort) || basePort < 1024 || basePort + storesCount > 65535) {
  console.error(
    `--base-port must leave room for ${storesCount} ports in [1024, 65535], got '${values['base-port']}'`,
  );
  process.exit(2);
}

const flotillaMain = fileURLToPath(new URL('./flotilla.ts', import.meta.url));
const dataDir = resolve(values['data-dir']);
const cluster = new Map<number, string>();
for (let id = 1; id <= storesCount; id++) cluster.set(id, `127.0.0.1:${basePort + id - 1}`);
const spec = formatClusterSpec(cluster);
const children = new Map<number, ChildProcess>();
let stopping = false;

for (const [id] of cluster) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      flotillaMain,
      'server',
      '--store-id',
      String(id),
      '--data-dir',
      join(dataDir, `store-${id}`),
      '--initial-cluster',
      spec,
    ],
    // Own process group: a terminal's Ctrl-C reaches only this process, which sends each
    // store one SIGTERM (a store takes a second signal as "exit now, skip the clean shutdown").
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  children.set(id, child);
  child.stdout
    ?.setEncoding('utf8')
    .on('data', (chunk: string) => process.stdout.write(prefixLines(id, chunk)));
  child.stderr
    ?.setEncoding('utf8')
    .on('data', (chunk: string) => process.stderr.write(prefixLines(id, chunk)));
  child.on('exit', (code, signal) => {
    children.delete(id);
    if (!stopping) console.error(`[store ${id}] exited (${code ?? signal}); the others keep running`);
    if (children.size === 0) process.exit(stopping ? 0 : 1);
  });
}

console.log(`Flotilla local cluster: ${storesCount} store(s), data in ${dataDir}`);
console.log(`  stores: ${spec}`);
console.log(`  try:    npm run flotilla -- put hello world && npm run flotilla -- get hello`);
console.log(`          npm run flotilla -- status`);
console.log('  Ctrl-C stops the cluster; data is kept for the next start.');

function prefixLines(id: number, chunk: string): string {
  return chunk
    .split('\n')
    .map((line, i, all) => (line.length === 0 && i === all.length - 1 ? '' : `[store ${id}] ${line}\n`))
    .join('');
}

function stopAll(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.error(`stopping ${children.size} store(s)...`);
  for (const child of children.values()) child.kill(signal === 'SIGINT' ? 'SIGTERM' : signal);
}

process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
// Detached stores would outlive this process if it died of an error: take them along.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGTERM');
});
