// Flotilla as a KvTarget: through the SDK (a PD cluster; coalesced BatchCommands streams, the
// way applications use it), or through the unary Kv client (server/src/cli/kv-client.ts, a
// static one-region cluster; one gRPC call per operation).
import { kvpb } from '@flotilla/proto';
import { createClient } from '../../sdk/src/index.js';
import type { FlotillaClient } from '../../sdk/src/index.js';
import { KvClient } from '../../server/src/cli/kv-client.js';
import type { KvTarget, ReadMode } from './kv-target.js';

export interface FlotillaSdkTargetOptions {
  readonly pdEndpoints: readonly string[];
  /** Time budget of one call, retries included. */
  readonly timeoutMs?: number;
  /** SDK request coalescing (default on); off, every put is its own request and Raft entry. */
  readonly coalesce?: boolean;
}

export async function flotillaSdkTarget(options: FlotillaSdkTargetOptions): Promise<KvTarget> {
  const client: FlotillaClient = await createClient({
    pdEndpoints: options.pdEndpoints,
    timeoutMs: options.timeoutMs ?? 10_000,
    coalesce: options.coalesce ?? true,
    // The workload keeps at most 256 operations in flight; the default queue bound is ample.
  });
  return {
    name: 'flotilla',
    readModes: ['linearizable', 'log', 'lease', 'stale'],
    put: async (key, value) => client.put(key, value),
    get: async (key, mode) => client.get(key, { consistency: mode }),
    close: () => client.close(),
  };
}

const UNARY_CONSISTENCY: Record<ReadMode, kvpb.ReadConsistency> = {
  linearizable: kvpb.ReadConsistency.LINEARIZABLE,
  lease: kvpb.ReadConsistency.LEASE,
  log: kvpb.ReadConsistency.LOG,
  stale: kvpb.ReadConsistency.STALE,
};

/** The unary client against a static cluster (one region): every read mode the server has. */
export function flotillaUnaryTarget(stores: ReadonlyMap<number, string>): KvTarget {
  const client = new KvClient({ stores, operationTimeoutMs: 10_000 });
  return {
    name: 'flotilla-unary',
    readModes: ['linearizable', 'lease', 'log', 'stale'],
    put: (key, value) => client.put(key, value),
    get: async (key, mode) => {
      const value = await client.get(key, UNARY_CONSISTENCY[mode]);
      return value === undefined ? undefined : Buffer.from(value);
    },
    close: async () => client.close(),
  };
}
