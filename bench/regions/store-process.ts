// One store process of the many-regions benchmark (idle-cpu.ts spawns three): the Raft
// machinery of a store node (RaftRuntime: engine, store loop and ticker, gRPC transport)
// over a fresh data directory into which N regions are bootstrapped at once, laid out the
// way splits would leave them (adjacent ranges covering the key space, one peer per store,
// peer ids unique per region). No client service, TTL sweeper or PD: only what idle regions
// cost. Talks to its parent over stdio: prints READY once serving, answers "status" with a
// STATUS json line, exits on "stop".
//
// Args: --store-id N --cluster 1=host:port,2=host:port,3=host:port --regions N
//       --data-dir DIR --hibernate on|off
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { RaftRuntime } from '../../server/src/node/raft-runtime.js';
import { WriteBatch } from '../../server/src/storage/engine.js';
import type { RegionMeta } from '../../server/src/store/region-meta.js';
import { writeInitialRegionState } from '../../server/src/store/region-split.js';

const { values } = parseArgs({
  options: {
    'store-id': { type: 'string' },
    cluster: { type: 'string' },
    regions: { type: 'string' },
    'data-dir': { type: 'string' },
    hibernate: { type: 'string', default: 'on' },
  },
});

const storeId = Number(values['store-id']);
const regionsCount = Number(values.regions);
const dataDir = values['data-dir'];
if (!Number.isSafeInteger(storeId) || storeId < 1) throw new Error('--store-id must be a positive integer');
if (!Number.isSafeInteger(regionsCount) || regionsCount < 1)
  throw new Error('--regions must be a positive integer');
if (dataDir === undefined) throw new Error('--data-dir is required');
if (values.hibernate !== 'on' && values.hibernate !== 'off') throw new Error('--hibernate must be on or off');
const addresses = new Map<number, string>(
  (values.cluster ?? '').split(',').map((part) => {
    const [id, address] = part.split('=');
    return [Number(id), address as string];
  }),
);
const storeIds = [...addresses.keys()].sort((a, b) => a - b);

/** Region i (1-based) of n: keys "r000001".."r00000n" as split points, first and last unbounded. */
export function benchRegion(regionId: number, n: number, stores: readonly number[]): RegionMeta {
  const key = (i: number): Uint8Array => new TextEncoder().encode(`r${String(i).padStart(6, '0')}`);
  return {
    id: regionId,
    startKey: regionId === 1 ? new Uint8Array(0) : key(regionId),
    endKey: regionId === n ? new Uint8Array(0) : key(regionId + 1),
    epoch: { confVer: 1, version: 1 },
    peers: stores.map((s) => ({ id: regionId * 16 + s, storeId: s, role: 'voter' as const })),
  };
}

const runtime = await RaftRuntime.start({
  nodeId: storeId,
  listenAddress: addresses.get(storeId) ?? '127.0.0.1:0',
  dataDir,
  resolveAddress: (id) => {
    const address = addresses.get(id);
    return address === undefined ? Promise.reject(new Error(`no store ${id}`)) : Promise.resolve(address);
  },
  storeConfig: { hibernateRegions: values.hibernate === 'on' },
  prepareEngine: async (engine) => {
    const batch = new WriteBatch();
    for (let id = 1; id <= regionsCount; id++)
      writeInitialRegionState(batch, benchRegion(id, regionsCount, storeIds), undefined);
    await engine.write(batch, { sync: true });
  },
  log: (line) => process.stderr.write(`${line}\n`),
  onFatal: (error) => {
    process.stderr.write(`store ${storeId}: fatal: ${error.stack ?? error.message}\n`);
    process.exit(70);
  },
});

function status(): Record<string, number> {
  let leaders = 0;
  let withLeader = 0;
  for (const peer of runtime.store.allRegions()) {
    const s = peer.node.basicStatus();
    if (s.leaderId !== 0) withLeader++;
    if (s.role === 'leader') leaders++;
  }
  let framesSentCount = 0;
  let messagesSentCount = 0;
  let heartbeatsSentCount = 0;
  for (const c of runtime.transport.stats().values()) {
    framesSentCount += c.framesSentCount;
    messagesSentCount += c.messagesSentCount;
    heartbeatsSentCount += c.heartbeatsSentCount;
  }
  const stats = runtime.store.stats();
  return {
    regions: runtime.store.allRegions().length,
    leaders,
    withLeader,
    awake: stats.awakeRegionsCount,
    woken: stats.regionsWokenCount,
    suspected: stats.suspectedStoresCount,
    rounds: stats.roundsCount,
    framesSentCount,
    messagesSentCount,
    heartbeatsSentCount,
  };
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'status') process.stdout.write(`STATUS ${JSON.stringify(status())}\n`);
  if (line === 'stop') {
    void runtime.stop().then(() => process.exit(0));
  }
});
lines.on('close', () => void runtime.stop().then(() => process.exit(0)));
process.stdout.write(`READY store=${storeId} regions=${runtime.regionsLoadedCount}\n`);
