// One store process of the many-regions benchmark (idle-cpu.ts spawns three): the Raft
// machinery of a store node (RaftRuntime: engine, store loop and ticker, gRPC transport)
// with N regions laid out the way splits would leave them (adjacent ranges covering the key
// space, one peer per store, peer ids unique per region). Regions come in waves on the
// parent's command, as splits bring them over time: "write A B" writes regions A..B into the
// engine; once every store wrote them, "add A B" adds their peers (a peer added on one store
// campaigns on its own after an election timeout: its vote requests must find the region's
// state on disk everywhere, so no store creates an uninitialized peer for it, as a split's
// parent range prevents in a real cluster); once every store added a wave, "campaign A B"
// makes one designated peer of each (stores in turn) campaign, as a split's new regions do.
// No client service, TTL sweeper or PD: only what idle regions cost. Prints READY once
// serving, answers "status" with a STATUS json line (with the event-loop delay since the
// last status), exits on "stop".
//
// Args: --store-id N --cluster 1=host:port,2=host:port,3=host:port --regions N
//       --data-dir DIR --hibernate on|off
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RaftRuntime } from '../../server/src/node/raft-runtime.js';
import { SeededRandom } from '@flotilla/raft';
import { WriteBatch } from '../../server/src/storage/engine.js';
import { createRegionPeer } from '../../server/src/store/region-loader.js';
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
  log: (line) => process.stderr.write(`${line}\n`),
  onFatal: (error) => {
    process.stderr.write(`store ${storeId}: fatal: ${error.stack ?? error.message}\n`);
    process.exit(70);
  },
});

/** Writes regions from..to into the engine (one synced batch). */
async function writeRegions(from: number, to: number): Promise<void> {
  const batch = new WriteBatch();
  for (let id = from; id <= to; id++)
    writeInitialRegionState(batch, benchRegion(id, regionsCount, storeIds), undefined);
  await runtime.engine.write(batch, { sync: true });
}

/** Adds the peers of regions from..to (written by writeRegions). */
async function addRegions(from: number, to: number): Promise<void> {
  const regions: RegionMeta[] = [];
  for (let id = from; id <= to; id++) regions.push(benchRegion(id, regionsCount, storeIds));
  const options = {
    engine: runtime.engine,
    config: runtime.config,
    randomFor: (regionId: number) => new SeededRandom(storeId * 1_000_003 + regionId),
    requestSnapshot: (regionId: number) => runtime.store.requestSnapshot(regionId),
  };
  for (const region of regions) {
    const self = region.peers.find((p) => p.storeId === storeId);
    if (self === undefined) throw new Error(`region ${region.id} has no peer on store ${storeId}`);
    runtime.store.addRegion(await createRegionPeer(region, self.id, options));
  }
}

function campaignRegions(from: number, to: number): void {
  for (let id = from; id <= to; id++) {
    if (storeIds[(id - 1) % storeIds.length] === storeId) runtime.store.campaign(id);
  }
}

function status(): Record<string, number | string> {
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
  let messagesDroppedCount = 0;
  let streamFailureCount = 0;
  const failures: string[] = [];
  for (const c of runtime.transport.stats().values()) {
    framesSentCount += c.framesSentCount;
    messagesSentCount += c.messagesSentCount;
    heartbeatsSentCount += c.heartbeatsSentCount;
    messagesDroppedCount += c.messagesDroppedCount;
    streamFailureCount += c.streamFailureCount;
    if (c.lastFailure !== null) failures.push(c.lastFailure);
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
    messagesDroppedCount,
    streamFailureCount,
    droppedInbound: stats.droppedRaftMessagesCount,
    ticksDelivered: stats.ticksDeliveredCount,
    ticksLost: stats.ticksLostCount,
    lastFailures: failures.join('; '),
    loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
    loopDelayMeanMs: Math.round(loopDelay.mean / 1e6),
  };
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, fromText, toText] = line.split(' ');
  const from = Number(fromText);
  const to = Math.min(Number(toText), regionsCount);
  if (command === 'status') {
    process.stdout.write(`STATUS ${JSON.stringify(status())}\n`);
    loopDelay.reset();
  }
  if (command === 'write') void writeRegions(from, to).then(() => process.stdout.write('WRITTEN\n'));
  if (command === 'add') void addRegions(from, to).then(() => process.stdout.write('ADDED\n'));
  if (command === 'campaign') {
    campaignRegions(from, to);
    process.stdout.write('CAMPAIGNED\n');
  }
  if (command === 'stop') void runtime.stop().then(() => process.exit(0));
});
lines.on('close', () => void runtime.stop().then(() => process.exit(0)));
process.stdout.write(`READY store=${storeId} regions=${runtime.regionsLoadedCount}\n`);
