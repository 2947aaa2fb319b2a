// The configuration of one Flotilla server process: what the settings are, their embedded
// defaults, and the checks that tie them together. Where a value comes from (defaults, a
// config file, FLOTILLA_* variables, flags) is config-sources.ts; this file turns the merged
// layers into one validated FlotillaServerConfig, failing with a message that names the
// source and key of the bad value.
import type { StoreConfig } from '../store/store-config.js';
import { STORE_CONFIG_DEFAULTS } from '../store/store-config.js';
import type { KvLimits } from '../service/kv-limits.js';
import { KV_LIMITS_DEFAULTS } from '../service/kv-limits.js';
import { ClusterSpecError, parseClusterSpec } from '../cli/cluster-spec.js';
import type { DiskConfig } from '../storage/disk-space.js';
import { DISK_CONFIG_DEFAULTS } from '../storage/disk-space.js';
import type { LevelDbEngineOptions } from '../storage/leveldb-engine.js';
import { LEVELDB_ENGINE_DEFAULTS } from '../storage/leveldb-engine.js';

export interface FlotillaServerConfig {
  /**
   * Static cluster: this store's id. With a Placement Driver (pdEndpoints set) it is 0 in
   * the configuration: the store id comes from PD at the first start and stays with the
   * data directory.
   */
  readonly storeId: number;
  /**
   * host:port to listen on; defaults to this store's address in initialCluster. With PD it
   * is required and is also the address other stores and clients are told.
   */
  readonly listen: string;
  readonly dataDir: string;
  /** Static cluster: every initial store's id and address (this one included); empty with PD. */
  readonly initialCluster: ReadonlyMap<number, string>;
  readonly clusterId: number;
  /** PD members (host:port); empty for a static cluster. */
  readonly pdEndpoints: readonly string[];
  /** With PD: how often the store reports its load and liveness. */
  readonly storeHeartbeatIntervalMs: number;
  /** With PD: how often each region's leader reports it (and at once on a leader or epoch change). */
  readonly regionHeartbeatIntervalMs: number;
  /** A region whose data grows past this is split in two (PD clusters: split ids come from PD). */
  readonly regionSplitSizeBytes: number;
  /** ... or past this many keys. */
  readonly regionSplitKeys: number;
  /** How often the leaders' region sizes are checked against the split thresholds. */
  readonly splitCheckIntervalMs: number;
  /** Load-based split: a led region above this many KV requests per second ... */
  readonly loadSplitQpsThreshold: number;
  /** ... for this long on end is split where its load divides (PD clusters). */
  readonly loadSplitWindowMs: number;
  readonly tickIntervalMs: number;
  /** Base election timeout; the core randomizes each follower's timeout in [T, 2T). */
  readonly electionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** electionTimeoutMs / tickIntervalMs (exact: checked at load). */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly snapshotIntervalEntries: number;
  readonly compactionKeepEntries: number;
  readonly raftLogSizeBytesMax: number;
  readonly keySizeBytesMax: number;
  readonly valueSizeBytesMax: number;
  readonly batchKeysMax: number;
  readonly scanLimitMax: number;
  /** How long graceful shutdown waits for every led region to hand over leadership. */
  readonly drainTimeoutMs: number;
  /** Disk space kept free (storage/disk-space.ts); 0: 5% of the disk, at most 1 GiB. */
  readonly diskReservedBytes: number;
  /** Below this the disk is already full (appends refused too); 0: a tenth of the reserve. */
  readonly diskAlreadyFullBytes: number;
  /**
   * A placeholder file of this size is kept in the data directory to delete in an emergency;
   * 0: the room LevelDB needs to open (a memtable and 1 MiB), written once the disk nears full.
   */
  readonly diskPlaceholderBytes: number;
  /** How often the disk's free space is read. */
  readonly diskCheckIntervalMs: number;
  /** LevelDB's memtable: flushed to a table file when this full; the disk reserve covers five of them. */
  readonly engineWriteBufferBytes: number;
}

export type SettingKey = Exclude<
  keyof FlotillaServerConfig,
  'electionTimeoutTicks' | 'heartbeatIntervalTicks'
>;

type SettingKind =
  | { readonly type: 'integer'; readonly min: number; readonly max: number }
  | { readonly type: 'string' }
  | { readonly type: 'address' }
  | { readonly type: 'addressList' }
  | { readonly type: 'cluster' };

const int = (min: number, max: number): SettingKind => ({ type: 'integer', min, max });
const GIB = 1024 * 1024 * 1024;

/** Every setting and the shape of its value; the env and flag names derive from the key. */
export const SETTINGS: Readonly<Record<SettingKey, SettingKind>> = {
  storeId: int(1, 2 ** 31 - 1),
  listen: { type: 'address' },
  dataDir: { type: 'string' },
  initialCluster: { type: 'cluster' },
  clusterId: int(1, 2 ** 31 - 1),
  pdEndpoints: { type: 'addressList' },
  storeHeartbeatIntervalMs: int(100, 600_000),
  regionHeartbeatIntervalMs: int(100, 3_600_000),
  regionSplitSizeBytes: int(64 * 1024, 64 * GIB),
  regionSplitKeys: int(16, 1_000_000_000),
  splitCheckIntervalMs: int(100, 3_600_000),
  loadSplitQpsThreshold: int(1, 1_000_000_000),
  loadSplitWindowMs: int(1000, 3_600_000),
  tickIntervalMs: int(1, 1000),
  electionTimeoutMs: int(2, 60_000),
  heartbeatIntervalMs: int(1, 30_000),
  snapshotIntervalEntries: int(2, 1_000_000_000),
  compactionKeepEntries: int(1, 1_000_000_000),
  raftLogSizeBytesMax: int(1024 * 1024, 64 * GIB),
  // A Raft entry carries one key and value plus framing; the core accepts entries up to
  // its uncommitted-bytes budget (32 MiB), so these stay well below it.
  keySizeBytesMax: int(1, 64 * 1024),
  valueSizeBytesMax: int(1, 16 * 1024 * 1024),
  batchKeysMax: int(1, 1_000_000),
  scanLimitMax: int(1, 1_000_000),
  drainTimeoutMs: int(0, 600_000),
  diskReservedBytes: int(0, 1024 * GIB),
  diskAlreadyFullBytes: int(0, 1024 * GIB),
  diskPlaceholderBytes: int(0, 1024 * GIB),
  diskCheckIntervalMs: int(10, 60_000),
  engineWriteBufferBytes: int(64 * 1024, GIB),
};

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

// Failover defaults. The core randomizes each follower's election timeout in [T, 2T) ticks,
// runs pre-vote (a candidate first asks whether it could win; peers that heard from a live
// leader within T refuse, so a partitioned or slow node cannot depose a healthy leader) and
// check-quorum (a leader that has not heard from a quorum within T steps down). When the
// leader dies, the first of the two surviving followers to time out wins: with timeouts
// uniform in [T, 2T), the earlier of two fires after 4T/3 on average, counted from the last
// heartbeat (on average half a heartbeat interval before the crash), then pre-vote and vote
// take two round trips and an fsync (well under 10 ms on loopback). T = 100 ms gives about
// 133 - 15 + 10 ≈ 130 ms on average and at most 2T + rounds ≈ 210 ms without a split vote;
// a split vote (both pick the same tick: 1 in 10 with T = 10 ticks) costs one more timeout.
// That keeps elections well under the 200 ms average and leaves most of the 1 s client
// budget for the client to find the new leader. A 10 ms tick gives 10 distinct timeouts
// (fewer ticks would make split votes likelier; a finer tick only costs wakeups). Heartbeats
// every 30 ms put three in each T, so a follower times out only after three are lost or
// late: an event-loop stall of about 100 ms on the leader is the smallest that can cause an
// unneeded election, and with pre-vote it then costs one election, not a disruption loop.
// etcd's advice (election timeout about 10x the round trip, heartbeat about the round trip)
// holds with Node's event-loop latency, a few ms under load, as the round trip.
// Measured (2-core machine, load average about 7, 15 runs of kill -9 of the leader of a
// settled 3-store cluster until a new leader shows in Admin status): 190 ms average, 267 ms
// worst, every election won in its first round. Under CPU starvation timers fire late and
// every tick-based timeout stretches with them. The cost of a short T: lease reads (opt-in;
// the default ReadIndex needs no clock) tolerate tick drift of T/5 = 20 ms per timeout, and
// a leader whose ticker skipped that many ticks (a stalled process) breaks the assumption.
export const SERVER_CONFIG_DEFAULTS = {
  clusterId: 1,
  // PD judges a store down from missing store heartbeats; 2 s keeps that judgement quick
  // at one small RPC per store. Region reports are periodic mostly for sizes and rates:
  // leadership and epoch changes are reported at once.
  storeHeartbeatIntervalMs: 2_000,
  regionHeartbeatIntervalMs: 20_000,
  regionSplitSizeBytes: STORE_CONFIG_DEFAULTS.regionSplitSizeBytes,
  regionSplitKeys: STORE_CONFIG_DEFAULTS.regionSplitKeys,
  splitCheckIntervalMs: STORE_CONFIG_DEFAULTS.splitCheckIntervalMs,
  loadSplitQpsThreshold: STORE_CONFIG_DEFAULTS.loadSplitQpsThreshold,
  loadSplitWindowMs: STORE_CONFIG_DEFAULTS.loadSplitWindowMs,
  // One source of truth: the store's and the KV layer's own defaults.
  tickIntervalMs: STORE_CONFIG_DEFAULTS.tickIntervalMs,
  electionTimeoutMs: STORE_CONFIG_DEFAULTS.tickIntervalMs * STORE_CONFIG_DEFAULTS.electionTimeoutTicks,
  heartbeatIntervalMs: STORE_CONFIG_DEFAULTS.tickIntervalMs * STORE_CONFIG_DEFAULTS.heartbeatIntervalTicks,
  snapshotIntervalEntries: STORE_CONFIG_DEFAULTS.snapshotIntervalEntries,
  compactionKeepEntries: STORE_CONFIG_DEFAULTS.compactionKeepEntries,
  raftLogSizeBytesMax: STORE_CONFIG_DEFAULTS.raftLogSizeBytesMax,
  keySizeBytesMax: KV_LIMITS_DEFAULTS.keySizeBytesMax,
  valueSizeBytesMax: KV_LIMITS_DEFAULTS.valueSizeBytesMax,
  batchKeysMax: KV_LIMITS_DEFAULTS.batchKeysMax,
  scanLimitMax: KV_LIMITS_DEFAULTS.scanLimitMax,
  /** 0: twice the election timeout. */
  drainTimeoutMs: 0,
  diskReservedBytes: DISK_CONFIG_DEFAULTS.reservedBytes,
  diskAlreadyFullBytes: DISK_CONFIG_DEFAULTS.alreadyFullBytes,
  diskPlaceholderBytes: DISK_CONFIG_DEFAULTS.placeholderBytes,
  diskCheckIntervalMs: DISK_CONFIG_DEFAULTS.checkIntervalMs,
  engineWriteBufferBytes: LEVELDB_ENGINE_DEFAULTS.writeBufferSizeBytes,
} as const satisfies Partial<Record<SettingKey, number>>;

/** A raw value and a description of where it came from, for error messages. */
export interface SourcedValue {
  readonly value: unknown;
  /** e.g. "FLOTILLA_ELECTION_TIMEOUT_MS=abc", "--listen=x", "flotilla.json: storeId" */
  readonly source: string;
}

export type ConfigLayer = Partial<Record<SettingKey, SourcedValue>>;

export class ServerConfigError extends Error {
  readonly code = 'INVALID_SERVER_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ServerConfigError';
  }
}

export function defaultsLayer(): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const [key, value] of Object.entries(SERVER_CONFIG_DEFAULTS)) {
    layer[key as SettingKey] = { value, source: `default ${key}=${value}` };
  }
  return layer;
}

/** Merges layers (later wins), parses and checks every value, then the relations between them. */
export function resolveServerConfig(layers: readonly ConfigLayer[]): FlotillaServerConfig {
  const merged: ConfigLayer = Object.assign({}, ...layers);
  const parsed = new Map<SettingKey, unknown>();
  for (const key of SETTING_KEYS) {
    const sourced = merged[key];
    if (sourced !== undefined) parsed.set(key, parseSetting(SETTINGS[key], sourced));
  }
  const need = <T>(key: SettingKey): T => {
    const value = parsed.get(key);
    if (value === undefined)
      throw new ServerConfigError(`${key} is required (${flagName(key)}, ${envName(key)} or config file)`);
    return value as T;
  };
  const { storeId, initialCluster, listen, pdEndpoints } = resolveMembership(merged, parsed, need);
  const timing = resolveTiming(merged, need);
  const snapshotIntervalEntries = need<number>('snapshotIntervalEntries');
  const compactionKeepEntries = need<number>('compactionKeepEntries');
  if (compactionKeepEntries >= snapshotIntervalEntries) {
    throw new ServerConfigError(
      `${merged.compactionKeepEntries?.source}: compactionKeepEntries must be below snapshotIntervalEntries (${merged.snapshotIntervalEntries?.source})`,
    );
  }
  const drainTimeoutMs = need<number>('drainTimeoutMs');
  return {
    storeId,
    listen,
    dataDir: need<string>('dataDir'),
    initialCluster,
    clusterId: need<number>('clusterId'),
    pdEndpoints,
    storeHeartbeatIntervalMs: need<number>('storeHeartbeatIntervalMs'),
    regionHeartbeatIntervalMs: need<number>('regionHeartbeatIntervalMs'),
    regionSplitSizeBytes: need<number>('regionSplitSizeBytes'),
    regionSplitKeys: need<number>('regionSplitKeys'),
    splitCheckIntervalMs: need<number>('splitCheckIntervalMs'),
    loadSplitQpsThreshold: need<number>('loadSplitQpsThreshold'),
    loadSplitWindowMs: need<number>('loadSplitWindowMs'),
    ...timing,
    snapshotIntervalEntries,
    compactionKeepEntries,
    raftLogSizeBytesMax: need<number>('raftLogSizeBytesMax'),
    keySizeBytesMax: need<number>('keySizeBytesMax'),
    valueSizeBytesMax: need<number>('valueSizeBytesMax'),
    batchKeysMax: need<number>('batchKeysMax'),
    scanLimitMax: need<number>('scanLimitMax'),
    drainTimeoutMs: drainTimeoutMs === 0 ? 2 * timing.electionTimeoutMs : drainTimeoutMs,
    diskReservedBytes: need<number>('diskReservedBytes'),
    diskAlreadyFullBytes: need<number>('diskAlreadyFullBytes'),
    diskPlaceholderBytes: need<number>('diskPlaceholderBytes'),
    diskCheckIntervalMs: need<number>('diskCheckIntervalMs'),
    engineWriteBufferBytes: need<number>('engineWriteBufferBytes'),
  };
}

/**
 * Either a static cluster (storeId + initialCluster) or a PD cluster (pdEndpoints + listen;
 * the store id comes from PD), never a mix: a setting of the other mode is an error, not
 * silently ignored.
 */
function resolveMembership(
  merged: ConfigLayer,
  parsed: ReadonlyMap<SettingKey, unknown>,
  need: <T>(key: SettingKey) => T,
): Pick<FlotillaServerConfig, 'storeId' | 'initialCluster' | 'listen' | 'pdEndpoints'> {
  const pdEndpoints = parsed.get('pdEndpoints') as string[] | undefined;
  if (pdEndpoints !== undefined) {
    for (const key of ['storeId', 'initialCluster', 'clusterId'] as const) {
      if (merged[key] !== undefined && !merged[key].source.startsWith('default'))
        throw new ServerConfigError(
          `${merged[key].source}: ${key} is for a static cluster; with pdEndpoints (${merged.pdEndpoints?.source}) PD assigns it`,
        );
    }
    const listen = parsed.get('listen') as string | undefined;
    if (listen === undefined || listen.endsWith(':0'))
      throw new ServerConfigError(
        `listen is required with pdEndpoints, with a fixed port: it is the address PD gives other stores and clients (${flagName('listen')})`,
      );
    return { storeId: 0, initialCluster: new Map(), listen, pdEndpoints };
  }
  const storeId = need<number>('storeId');
  const initialCluster = need<Map<number, string>>('initialCluster');
  if (!initialCluster.has(storeId)) {
    throw new ServerConfigError(
      `${merged.storeId?.source}: store ${storeId} is not in initialCluster (${merged.initialCluster?.source})`,
    );
  }
  const listen = (parsed.get('listen') as string | undefined) ?? (initialCluster.get(storeId) as string);
  return { storeId, initialCluster, listen, pdEndpoints: [] };
}

type Timing = Pick<
  FlotillaServerConfig,
  | 'tickIntervalMs'
  | 'electionTimeoutMs'
  | 'heartbeatIntervalMs'
  | 'electionTimeoutTicks'
  | 'heartbeatIntervalTicks'
>;

/** Milliseconds to ticks: both timeouts must be whole multiples of the tick, heartbeat below election. */
function resolveTiming(merged: ConfigLayer, need: <T>(key: SettingKey) => T): Timing {
  const tickIntervalMs = need<number>('tickIntervalMs');
  const electionTimeoutMs = need<number>('electionTimeoutMs');
  const heartbeatIntervalMs = need<number>('heartbeatIntervalMs');
  const tickSource = merged.tickIntervalMs?.source;
  for (const key of ['electionTimeoutMs', 'heartbeatIntervalMs'] as const) {
    const ms = key === 'electionTimeoutMs' ? electionTimeoutMs : heartbeatIntervalMs;
    if (ms % tickIntervalMs !== 0) {
      throw new ServerConfigError(
        `${merged[key]?.source}: ${key} must be a multiple of tickIntervalMs (${tickSource})`,
      );
    }
  }
  const electionTimeoutTicks = electionTimeoutMs / tickIntervalMs;
  const heartbeatIntervalTicks = heartbeatIntervalMs / tickIntervalMs;
  if (heartbeatIntervalMs >= electionTimeoutMs) {
    throw new ServerConfigError(
      `${merged.heartbeatIntervalMs?.source}: heartbeatIntervalMs must be below electionTimeoutMs (${merged.electionTimeoutMs?.source})`,
    );
  }
  // Fewer ticks per timeout leave too few distinct randomized timeouts: split votes.
  if (electionTimeoutTicks < 5) {
    throw new ServerConfigError(
      `${merged.electionTimeoutMs?.source}: electionTimeoutMs must be at least 5 ticks (tickIntervalMs from ${tickSource})`,
    );
  }
  return {
    tickIntervalMs,
    electionTimeoutMs,
    heartbeatIntervalMs,
    electionTimeoutTicks,
    heartbeatIntervalTicks,
  };
}

function parseSetting(kind: SettingKind, { value, source }: SourcedValue): unknown {
  switch (kind.type) {
    case 'integer':
      return parseInteger(value, source, kind.min, kind.max);
    case 'string':
      if (typeof value !== 'string' || value.trim().length === 0)
        throw new ServerConfigError(`${source}: expected a non-empty string`);
      return value;
    case 'address':
      if (typeof value !== 'string' || !/^[^:\s]+:\d{1,5}$/.test(value))
        throw new ServerConfigError(`${source}: expected host:port`);
      return value;
    case 'addressList':
      return parseAddressList(value, source);
    case 'cluster':
      return parseCluster(value, source);
  }
}

function parseInteger(value: unknown, source: string, min: number, max: number): number {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || (n === 0 && min > 0)) {
    throw new ServerConfigError(`${source}: expected a ${min > 0 ? 'positive' : 'non-negative'} integer`);
  }
  if (n < min || n > max) throw new ServerConfigError(`${source}: expected an integer in [${min}, ${max}]`);
  return n;
}

/** "host:port,host:port", or in a file also ["host:port", ...]. */
function parseAddressList(value: unknown, source: string): string[] {
  const items =
    typeof value === 'string'
      ? value.split(',').map((s) => s.trim())
      : Array.isArray(value)
        ? value
        : undefined;
  if (items === undefined || items.length === 0)
    throw new ServerConfigError(`${source}: expected "host:port,host:port,..."`);
  for (const item of items) {
    if (typeof item !== 'string' || !/^[^:\s]+:\d{1,5}$/.test(item))
      throw new ServerConfigError(`${source}: '${String(item)}' is not host:port`);
  }
  return [...new Set(items as string[])];
}

/** "1=host:port,2=host:port", or in a file also {"1": "host:port", ...}. */
function parseCluster(value: unknown, source: string): Map<number, string> {
  let spec: string;
  if (typeof value === 'string') spec = value;
  else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    spec = Object.entries(value)
      .map(([id, address]) => `${id}=${String(address)}`)
      .join(',');
  } else throw new ServerConfigError(`${source}: expected "1=host:port,2=host:port,..."`);
  try {
    return parseClusterSpec(spec);
  } catch (err) {
    if (err instanceof ClusterSpecError) throw new ServerConfigError(`${source}: ${err.message}`);
    throw err;
  }
}

/** FLOTILLA_ELECTION_TIMEOUT_MS for electionTimeoutMs. */
export function envName(key: SettingKey): string {
  return `FLOTILLA_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** --election-timeout-ms for electionTimeoutMs. */
export function flagName(key: SettingKey): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Room in a Raft entry for the command's framing around the key and value. */
const ENTRY_FRAMING_BYTES = 64 * 1024;

/** What a StoreNode takes, from a resolved configuration. */
export function storeNodeSettings(config: FlotillaServerConfig): {
  storeConfig: Partial<StoreConfig>;
  kvLimits: Partial<KvLimits>;
  disk: Omit<DiskConfig, 'engineHeadroomBytes' | 'engineReopenBytes'>;
  engine: LevelDbEngineOptions;
} {
  return {
    storeConfig: {
      tickIntervalMs: config.tickIntervalMs,
      electionTimeoutTicks: config.electionTimeoutTicks,
      heartbeatIntervalTicks: config.heartbeatIntervalTicks,
      snapshotIntervalEntries: config.snapshotIntervalEntries,
      compactionKeepEntries: config.compactionKeepEntries,
      raftLogSizeBytesMax: config.raftLogSizeBytesMax,
      raftEntrySizeBytesMax: config.keySizeBytesMax + config.valueSizeBytesMax + ENTRY_FRAMING_BYTES,
      regionSplitSizeBytes: config.regionSplitSizeBytes,
      regionSplitKeys: config.regionSplitKeys,
      splitCheckIntervalMs: config.splitCheckIntervalMs,
      loadSplitQpsThreshold: config.loadSplitQpsThreshold,
      loadSplitWindowMs: config.loadSplitWindowMs,
    },
    kvLimits: {
      keySizeBytesMax: config.keySizeBytesMax,
      valueSizeBytesMax: config.valueSizeBytesMax,
      batchKeysMax: config.batchKeysMax,
      scanLimitMax: config.scanLimitMax,
    },
    disk: {
      reservedBytes: config.diskReservedBytes,
      alreadyFullBytes: config.diskAlreadyFullBytes,
      placeholderBytes: config.diskPlaceholderBytes,
      checkIntervalMs: config.diskCheckIntervalMs,
    },
    engine: { writeBufferSizeBytes: config.engineWriteBufferBytes },
  };
}
