// How a store joins a cluster run by a Placement Driver, before its Raft machinery starts
// (the engine is opened plainly, then closed again):
//   - identity: a data directory belongs to one store of one cluster forever. A new
//     directory gets a store id from PD (AllocId) and records it with the cluster id; a
//     directory that has one keeps it, whatever address the store now has.
//   - bootstrap, if the cluster does not exist yet: the store writes the first region (the
//     whole key space, one voter on this store) together with a prepared-bootstrap marker,
//     and only then asks PD to Bootstrap with it. Writing first means PD never records a
//     region no store has; the marker means a store that crashed in between knows its
//     region may not be the cluster's, and asks again at the next start. When several
//     stores race, PD takes one Bootstrap; the losers delete their prepared region (it never
//     served: no one could route to it). PD's replica checker then adds the other replicas.
import { join } from 'node:path';
import { metapb, pdpb, raftpb } from '@flotilla/proto';
import type { Engine } from '../storage/engine.js';
import { WriteBatch } from '../storage/engine.js';
import { LevelDbEngine } from '../storage/leveldb-engine.js';
import {
  applyStateKey,
  preparedBootstrapKey,
  raftHardStateKey,
  raftLogRange,
  regionStateKey,
  storeIdentKey,
} from '../storage/keys.js';
import { readU64, writeU64 } from '../storage/bytes.js';
import type { RegionMeta } from '../store/region-meta.js';
import { decodeRegionLocalState, regionToProto } from '../store/region-meta.js';
import { writeInitialRegionState } from '../store/region-split.js';
import { toSafeNumber } from '../store/wire-numbers.js';
import type { PdClient } from './pd-client.js';

/** A region PD never confirmed cannot have served: its log is its first leader's entries at most. */
const PREPARED_LOG_ENTRIES_MAX = 1024;

export class StoreJoinError extends Error {
  readonly code = 'STORE_JOIN';
  constructor(message: string) {
    super(message);
    this.name = 'StoreJoinError';
  }
}

export interface StoreIdentity {
  readonly storeId: number;
  readonly clusterId: number;
}

/** The engine directory inside a store's data directory (as RaftRuntime opens it). */
export function engineDirectory(dataDir: string): string {
  return join(dataDir, 'db');
}

export interface JoinOptions {
  readonly pd: PdClient;
  readonly dataDir: string;
  /** host:port other stores and clients reach this store on (a fixed port). */
  readonly address: string;
  readonly version: string;
  readonly labels?: ReadonlyArray<{ key: string; value: string }>;
  readonly log: (line: string) => void;
}

/** Identity, registration and (for the first store) cluster bootstrap. */
export async function joinCluster(options: JoinOptions): Promise<StoreIdentity> {
  const { pd } = options;
  if (/:0$/.test(options.address) || !/:\d+$/.test(options.address))
    throw new StoreJoinError(
      `a store in a PD cluster needs a fixed host:port to advertise, got "${options.address}"`,
    );
  const clusterId = await pdClusterId(pd);
  const engine = await LevelDbEngine.open(engineDirectory(options.dataDir));
  try {
    const identity = await storeIdentityOf(engine, clusterId, pd);
    const store: metapb.Store = {
      id: BigInt(identity.storeId),
      address: options.address,
      labels: (options.labels ?? []).map((l) => ({ key: l.key, value: l.value })),
      state: metapb.StoreState.UP,
      version: options.version,
      statusAddress: '',
    };
    // PD takes registrations only once the cluster exists; Bootstrap registers the first store.
    await bootstrapIfNeeded(engine, pd, store, identity, options.log);
    await pd.putStore(store);
    return identity;
  } finally {
    await engine.close();
  }
}
/** How long a starting store waits for a PD leader to name the cluster id (PD may be starting too). */
const CLUSTER_ID_WAIT_MS = 60_000;

/** The PD cluster's id; a PD just elected may not have loaded (or created) it yet. */
async function pdClusterId(pd: PdClient): Promise<number> {
  const deadline = Date.now() + CLUSTER_ID_WAIT_MS;
  for (let delayMs = 20; ; delayMs = Math.min(delayMs * 2, 500)) {
    const members = await pd.getMembers();
    const clusterId = toSafeNumber(members.header?.clusterId ?? 0n, 'PD cluster id');
    if (clusterId !== 0) return clusterId;
    if (Date.now() + delayMs > deadline)
      throw new StoreJoinError(`PD named no cluster id within ${CLUSTER_ID_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

async function storeIdentityOf(engine: Engine, clusterId: number, pd: PdClient): Promise<StoreIdentity> {
  const existing = engine.getSync(storeIdentKey);
  if (existing !== undefined) {
    const ident = raftpb.StoreIdent.decode(existing);
    const stored = {
      storeId: toSafeNumber(ident.storeId, 'storeIdent.storeId'),
      clusterId: toSafeNumber(ident.clusterId, 'storeIdent.clusterId'),
    };
    if (stored.clusterId !== clusterId) {
      throw new StoreJoinError(
        `data directory belongs to store ${stored.storeId} of cluster ${stored.clusterId}, but PD runs cluster ${clusterId}`,
      );
    }
    return stored;
  }
  const storeId = await pd.allocId();
  const ident = raftpb.StoreIdent.encode({ clusterId: BigInt(clusterId), storeId: BigInt(storeId) }).finish();
  await engine.write(new WriteBatch().put(storeIdentKey, ident), { sync: true });
  return { storeId, clusterId };
}

/** Creates the cluster with a first region on this store, unless it exists (or another store wins). */
async function bootstrapIfNeeded(
  engine: Engine,
  pd: PdClient,
  store: metapb.Store,
  identity: StoreIdentity,
  log: (line: string) => void,
): Promise<void> {
  const marker = engine.getSync(preparedBootstrapKey);
  if (marker === undefined && (await pd.isBootstrapped()).bootstrapped) return;
  let region: RegionMeta;
  if (marker !== undefined) {
    // A crash left a prepared region: offer the same one again.
    const regionId = readU64(new DataView(marker.buffer, marker.byteOffset, marker.byteLength), 0);
    const state = engine.getSync(regionStateKey(regionId));
    if (state === undefined)
      throw new StoreJoinError(`prepared bootstrap region ${regionId} has no local state`);
    region = decodeRegionLocalState(state).region;
  } else {
    region = firstRegionOf(await pd.allocId(), await pd.allocId(), identity.storeId);
    const markerBytes = new Uint8Array(8);
    writeU64(new DataView(markerBytes.buffer), 0, region.id);
    // The log starts at RAFT_INIT_LOG_INDEX like a split's: replicas PD adds later begin
    // empty (index 0) and can only be initialized by a snapshot, never by appends.
    const batch = new WriteBatch().put(preparedBootstrapKey, markerBytes);
    writeInitialRegionState(batch, region, undefined);
    await engine.write(batch, { sync: true });
  }
  const res = await pd.bootstrap({ store, region: regionToProto(region) });
  const batch = new WriteBatch().delete(preparedBootstrapKey);
  if (res.header?.error?.type === pdpb.ErrorType.ALREADY_BOOTSTRAPPED) {
    // Our own earlier attempt (its answer lost), or another store's?
    const known = await pd.getRegionById(region.id);
    if (known.region?.region === undefined) {
      log(`cluster already bootstrapped by another store: removing prepared region ${region.id}`);
      await deleteRegionLocally(engine, batch, region.id);
      await engine.write(batch, { sync: true });
      return;
    }
  }
  await engine.write(batch, { sync: true });
  log(`store ${identity.storeId} bootstrapped the cluster with region ${region.id}`);
}

/** Every local key of a region that never served a request (its data range is empty). */
async function deleteRegionLocally(engine: Engine, batch: WriteBatch, regionId: number): Promise<void> {
  batch.delete(regionStateKey(regionId)).delete(raftHardStateKey(regionId)).delete(applyStateKey(regionId));
  // A prepared region holds a handful of entries at most (its first leader's empty entry).
  const page = await engine.scan(raftLogRange(regionId, 0, Number.MAX_SAFE_INTEGER), {
    limit: PREPARED_LOG_ENTRIES_MAX,
    keysOnly: true,
  });
  if (page.length === PREPARED_LOG_ENTRIES_MAX)
    throw new StoreJoinError(
      `prepared region ${regionId} has a log of ${page.length}+ entries: it served, refusing to delete it`,
    );
  for (const { key } of page) batch.delete(key);
}

function firstRegionOf(regionId: number, peerId: number, storeId: number): RegionMeta {
  return {
    id: regionId,
    startKey: new Uint8Array(0),
    endKey: new Uint8Array(0),
    epoch: { confVer: 1, version: 1 },
    peers: [{ id: peerId, storeId, role: 'voter' }],
  };
}
