// The Placement Driver's scheduling settings, with defaults and validation.
export interface ScheduleConfig {
  /** Voters each region should have. */
  readonly maxReplicas: number;
  /**
   * A store silent this long is down: its peers are replaced on other stores. Shorter than
   * TiKV's 30 min default because a Flotilla store restarts in about a second (its log
   * replays or a snapshot arrives): waiting longer only prolongs running one replica short.
   */
  readonly maxStoreDownTimeMs: number;
  /** A store silent this long gets no new replicas or leaders (it may only be slow or restarting). */
  readonly storeDisconnectedTimeMs: number;
  /** Operators running at once, by kind. */
  readonly replicaScheduleLimit: number;
  readonly leaderScheduleLimit: number;
  readonly regionScheduleLimit: number;
  /** An operator not finished after this long is given up (the checkers will try again). */
  readonly operatorTimeoutMs: number;
  /** A step not yet seen done is sent again after this long (the leader may have ignored it). */
  readonly stepResendIntervalMs: number;
  /** How often the balancers look for work. */
  readonly balanceIntervalMs: number;
  /** Leaders (or regions) a store may hold above the average before the balancer moves one. */
  readonly balanceTolerance: number;
  /** Finished operators kept for status. */
  readonly operatorHistoryMax: number;
  /** Hot-region leader spreading (hot-region-scheduler.ts): operators running at once. */
  readonly hotRegionScheduleLimit: number;
  /** A region reading plus writing at least this many keys per second is hot. */
  readonly hotRegionKeysPerSecondMin: number;
  /** Leaders move once the hottest store leads this much (%) more hot load than the average. */
  readonly hotRegionTolerancePercent: number;
  /** A moved hot region stays put this long; its old rate counts at its new leader meanwhile. */
  readonly hotRegionCooldownMs: number;
  /** A region's rates older than this (no report since) count as unknown. */
  readonly hotRegionReportMaxAgeMs: number;
  /** Merges (merge-checker.ts): operators running at once. */
  readonly mergeScheduleLimit: number;
  /** A region at most this large (approximate, as last reported) may merge into a neighbour. */
  readonly mergeRegionSizeBytesMax: number;
  /** A region with at most this many keys may merge into a neighbour. */
  readonly mergeRegionKeysMax: number;
  /** A region whose range changed (split, merge) less than this long ago does not merge. */
  readonly splitMergeIntervalMs: number;
  /** The stores' split size: a merge never makes a region larger than this. */
  readonly regionSplitSizeBytes: number;
  /** Leader evictions off stores whose disk is not NORMAL (disk-schedulers.ts): operators running at once. */
  readonly evictLeaderScheduleLimit: number;
  /** Region moves off stores full or low on space (disk-schedulers.ts): operators running at once. */
  readonly spaceScheduleLimit: number;
  /** Space moves running at once out of, or into, one store. */
  readonly spaceMovesPerStoreMax: number;
  /**
   * A store using at least this share of its disk (%), with less than half the available
   * space of another store, is low on space: balancing puts nothing on it and moves regions
   * off it (store-disk.ts). TiKV's low-space-ratio, as a percentage.
   */
  readonly lowSpaceRatioPercent: number;
}

export const SCHEDULE_CONFIG_DEFAULTS: ScheduleConfig = {
  maxReplicas: 3,
  maxStoreDownTimeMs: 5 * 60_000,
  storeDisconnectedTimeMs: 20_000,
  replicaScheduleLimit: 64,
  leaderScheduleLimit: 8,
  regionScheduleLimit: 4,
  operatorTimeoutMs: 10 * 60_000,
  stepResendIntervalMs: 5_000,
  balanceIntervalMs: 1_000,
  balanceTolerance: 1,
  operatorHistoryMax: 256,
  hotRegionScheduleLimit: 4,
  hotRegionKeysPerSecondMin: 100,
  hotRegionTolerancePercent: 25,
  hotRegionCooldownMs: 60_000,
  hotRegionReportMaxAgeMs: 60_000,
  mergeScheduleLimit: 8,
  // 1/8 of the default split size (64 MiB) and key count (640,000).
  mergeRegionSizeBytesMax: 8 * 1024 * 1024,
  mergeRegionKeysMax: 80_000,
  splitMergeIntervalMs: 10 * 60_000,
  regionSplitSizeBytes: 64 * 1024 * 1024,
  evictLeaderScheduleLimit: 16,
  spaceScheduleLimit: 4,
  spaceMovesPerStoreMax: 2,
  lowSpaceRatioPercent: 80,
};

export class ScheduleConfigError extends Error {
  readonly code = 'INVALID_SCHEDULE_CONFIG';
  constructor(field: string, detail: string) {
    super(`schedule config ${field}: ${detail}`);
    this.name = 'ScheduleConfigError';
  }
}

export function resolveScheduleConfig(partial: Partial<ScheduleConfig> = {}): ScheduleConfig {
  const config: ScheduleConfig = { ...SCHEDULE_CONFIG_DEFAULTS, ...partial };
  for (const [field, value] of Object.entries(config)) {
    if (!Number.isSafeInteger(value) || (value as number) < 0)
      throw new ScheduleConfigError(field, `must be a non-negative integer, got ${String(value)}`);
  }
  if (config.maxReplicas < 1) throw new ScheduleConfigError('maxReplicas', 'must be at least 1');
  if (config.lowSpaceRatioPercent > 100)
    throw new ScheduleConfigError('lowSpaceRatioPercent', 'must be at most 100');
  if (config.storeDisconnectedTimeMs > config.maxStoreDownTimeMs)
    throw new ScheduleConfigError('storeDisconnectedTimeMs', 'must not exceed maxStoreDownTimeMs');
  return config;
}
