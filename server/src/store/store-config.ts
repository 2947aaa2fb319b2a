// Configuration of a store node, with defaults and up-front validation: a bad setting
// fails at start with a message naming it, never later at runtime.
export interface StoreConfig {
  readonly storeId: number;
  /** Wall-clock length of one Raft tick. */
  readonly tickIntervalMs: number;
  /** Election timeout in ticks (randomized up to twice this by the core). */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** Bound of proposals and reads queued for one region before ServerIsBusy. */
  readonly regionMailboxCapacity: number;
  /** Bound of Raft messages queued for one region before they are dropped (Raft retransmits). */
  readonly regionRaftInboxCapacity: number;
  /** Bound of proposals awaiting apply in one region. */
  readonly pendingProposalsMax: number;
  /** Bytes of recent log entries cached per region. */
  readonly entryCacheBytesMax: number;
  /** Largest accepted Raft entry (a proposal encoded). */
  readonly raftEntrySizeBytesMax: number;
  /** Compact the log once this many entries have been applied since the last compaction. */
  readonly snapshotIntervalEntries: number;
  /** ... or once the retained log exceeds this many bytes. */
  readonly raftLogSizeBytesMax: number;
  /** Entries kept behind the applied index at compaction, for followers slightly behind. */
  readonly compactionKeepEntries: number;
  /** Suggested client backoff in ServerIsBusy errors. */
  readonly busyBackoffMs: number;
  /** How often the leader of each region sweeps a page of its keys for expired TTLs. */
  readonly ttlSweepIntervalMs: number;
  /**
   * Raft ticks a region gets in one store round at most; tick intervals beyond it that elapse
   * during a long round are lost (tick-clock.ts). 1 keeps every timeout a fixed number of
   * rounds, so elections and check-quorum hold when rounds grow long under load.
   */
  readonly ticksPerRoundMax: number;
  /** How often the node runs Store.checkSplits(). */
  readonly splitCheckIntervalMs: number;
  /** A region whose data grows past this size is split in two halves of about equal size. */
  readonly regionSplitSizeBytes: number;
  /** ... or past this many keys. */
  readonly regionSplitKeys: number;
  /** Regions measured (and split) at the same time by one split check pass. */
  readonly splitChecksInFlightMax: number;
  /**
   * Load-based split (load-split-checker.ts): a led region serving more KV requests per second
   * than this, for loadSplitWindowMs on end, is split where its load divides.
   */
  readonly loadSplitQpsThreshold: number;
  readonly loadSplitWindowMs: number;
  /** Peers created by messages and not yet initialized by a snapshot; more are not created. */
  readonly uninitializedPeersMax: number;
  /**
   * Hibernation (hibernation.ts): an idle region whose replicas all agree stops ticking and
   * heartbeating until a proposal, a message or a suspected peer store wakes it.
   */
  readonly hibernateRegions: boolean;
  /** Ticks a leader must see no traffic (heartbeats aside) before it may quiesce its region. */
  readonly hibernateAfterIdleTicks: number;
  /**
   * Ticks without a frame from a peer store before it is suspected down (store-liveness.ts):
   * quiesced regions led there wake up so their followers can elect a new leader.
   */
  readonly storeSuspectAfterTicks: number;
  /**
   * Ticks between two pings to each peer store while regions hibernate (an empty frame when
   * nothing else is queued). A few pings per suspicion window are enough; each costs a frame
   * and an ack on both stores, the main idle cost of a store whose regions all sleep.
   */
  readonly storePingIntervalTicks: number;
  /**
   * Quiesced regions a store suspicion wakes per tick at most (wake-pacer.ts): the rest wait
   * for the next ticks, and are not woken at all if the store is heard again meanwhile.
   */
  readonly wakeRegionsPerTickMax: number;
}

export const STORE_CONFIG_DEFAULTS: Omit<StoreConfig, 'storeId'> = {
  tickIntervalMs: 10,
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 3,
  regionMailboxCapacity: 4096,
  regionRaftInboxCapacity: 8192,
  pendingProposalsMax: 16384,
  entryCacheBytesMax: 8 * 1024 * 1024,
  raftEntrySizeBytesMax: 8 * 1024 * 1024 + 64 * 1024,
  snapshotIntervalEntries: 10_000,
  raftLogSizeBytesMax: 64 * 1024 * 1024,
  compactionKeepEntries: 1000,
  busyBackoffMs: 50,
  ttlSweepIntervalMs: 1000,
  ticksPerRoundMax: 1,
  splitCheckIntervalMs: 10_000,
  regionSplitSizeBytes: 64 * 1024 * 1024,
  regionSplitKeys: 640_000,
  splitChecksInFlightMax: 4,
  // TiKV's defaults (split.qps-threshold 3000, detect-times 10 one-second periods).
  loadSplitQpsThreshold: 3000,
  loadSplitWindowMs: 10_000,
  uninitializedPeersMax: 1024,
  hibernateRegions: true,
  hibernateAfterIdleTicks: 20,
  storeSuspectAfterTicks: 30,
  storePingIntervalTicks: 10,
  wakeRegionsPerTickMax: 256,
};

/** Election timeouts of silence before a peer store is suspected (default of storeSuspectAfterTicks). */
const SUSPECT_AFTER_ELECTION_TIMEOUTS = 3;
/** Pings a peer store gets per suspicion window (default of storePingIntervalTicks). */
const PINGS_PER_SUSPICION_WINDOW = 3;

export class StoreConfigError extends Error {
  readonly code = 'INVALID_STORE_CONFIG';
  constructor(field: string, detail: string) {
    super(`store config ${field}: ${detail}`);
    this.name = 'StoreConfigError';
  }
}

export function resolveStoreConfig(partial: Partial<StoreConfig> & { storeId: number }): StoreConfig {
  const merged = {
    ...STORE_CONFIG_DEFAULTS,
    // Suspected after three election timeouts of silence, whatever the timeout is set to: one
    // timeout is shorter than the stalls of a loaded store loop, and every false suspicion
    // wakes the regions led from that store (their load can stall it again).
    storeSuspectAfterTicks:
      SUSPECT_AFTER_ELECTION_TIMEOUTS *
      (partial.electionTimeoutTicks ?? STORE_CONFIG_DEFAULTS.electionTimeoutTicks),
    ...partial,
  };
  const config: StoreConfig = {
    ...merged,
    // A few pings per suspicion window, whatever the window is set to.
    storePingIntervalTicks:
      partial.storePingIntervalTicks ??
      Math.max(1, Math.floor(merged.storeSuspectAfterTicks / PINGS_PER_SUSPICION_WINDOW)),
  };
  for (const [field, value] of Object.entries(config)) {
    if (field === 'hibernateRegions') {
      if (typeof value !== 'boolean')
        throw new StoreConfigError(field, `must be a boolean, got ${String(value)}`);
      continue;
    }
    if (!Number.isSafeInteger(value) || (value as number) <= 0) {
      throw new StoreConfigError(field, `must be a positive integer, got ${String(value)}`);
    }
  }
  if (config.heartbeatIntervalTicks >= config.electionTimeoutTicks) {
    throw new StoreConfigError(
      'heartbeatIntervalTicks',
      `must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
    );
  }
  if (config.storePingIntervalTicks >= config.storeSuspectAfterTicks) {
    throw new StoreConfigError(
      'storePingIntervalTicks',
      `must be below storeSuspectAfterTicks (${config.storeSuspectAfterTicks}), or live stores get suspected`,
    );
  }
  if (config.compactionKeepEntries >= config.snapshotIntervalEntries) {
    throw new StoreConfigError(
      'compactionKeepEntries',
      `must be below snapshotIntervalEntries (${config.snapshotIntervalEntries})`,
    );
  }
  if (config.hibernateAfterIdleTicks < config.heartbeatIntervalTicks) {
    throw new StoreConfigError(
      'hibernateAfterIdleTicks',
      `must be at least heartbeatIntervalTicks (${config.heartbeatIntervalTicks}), so followers hear the commit index first`,
    );
  }
  return config;
}
