// Counters of what the client did, for benchmarks and dashboards: how many operations the
// application asked for, how many RPCs (unary calls and BatchCommands frames) and store
// requests carried them, how many PD calls routing needed, and why retries happened.

/** Why an attempt was retried. */
export type RetryReason =
  | 'notLeader'
  | 'epochNotMatch'
  | 'regionNotFound'
  | 'keyNotInRegion'
  | 'serverIsBusy'
  | 'staleCommand'
  | 'storeNotMatch'
  | 'notSent'
  | 'connectionLost'
  | 'readTimeout';

export interface ClientStats {
  /** Operations the application called (a batchGet of 100 keys is one). */
  readonly ops: number;
  /** Round trips to stores: unary RPCs plus BatchCommands frames written. */
  readonly rpcs: number;
  /** Store requests sent (a frame carries many; gets merged into one BatchGet count once). */
  readonly requests: number;
  /** Calls to PD (region and store lookups, member discovery). */
  readonly pdCalls: number;
  readonly regionCacheHits: number;
  readonly regionCacheMisses: number;
  /** Retries by reason. */
  readonly retries: Readonly<Record<RetryReason, number>>;
}

export class StatsRecorder {
  ops = 0;
  rpcs = 0;
  requests = 0;
  pdCalls = 0;
  regionCacheHits = 0;
  regionCacheMisses = 0;
  private readonly retries: Record<RetryReason, number> = {
    notLeader: 0,
    epochNotMatch: 0,
    regionNotFound: 0,
    keyNotInRegion: 0,
    serverIsBusy: 0,
    staleCommand: 0,
    storeNotMatch: 0,
    notSent: 0,
    connectionLost: 0,
    readTimeout: 0,
  };

  retry(reason: RetryReason): void {
    this.retries[reason]++;
  }

  snapshot(): ClientStats {
    return {
      ops: this.ops,
      rpcs: this.rpcs,
      requests: this.requests,
      pdCalls: this.pdCalls,
      regionCacheHits: this.regionCacheHits,
      regionCacheMisses: this.regionCacheMisses,
      retries: { ...this.retries },
    };
  }
}
