// The stores PD knows: their registration (persisted, metapb.Store) and, on the leader, the
// latest StoreHeartbeat stats with the time they arrived (memory only; rebuilt by the next
// heartbeats after a PD failover).
import { metapb } from '@flotilla/proto';
import type { pdpb } from '@flotilla/proto';

/** Stores one cluster may register. */
export const STORES_MAX = 100_000;

export interface StoreInfo {
  readonly store: metapb.Store;
  /** Latest reported stats; undefined until the first heartbeat reaches this leader. */
  readonly stats: pdpb.StoreStats | undefined;
  /** When that heartbeat arrived, Unix ms; 0 if none. */
  readonly heartbeatAtUnixMs: number;
}

export class StoreDirectory {
  private readonly byId = new Map<number, StoreInfo>();

  get size(): number {
    return this.byId.size;
  }

  get(storeId: number): StoreInfo | undefined {
    return this.byId.get(storeId);
  }

  /** Registers or updates a store's registration, keeping its stats. */
  put(store: metapb.Store): void {
    const id = Number(store.id);
    const old = this.byId.get(id);
    if (old === undefined && this.byId.size >= STORES_MAX)
      throw new RangeError(`more than ${STORES_MAX} stores`);
    this.byId.set(id, { store, stats: old?.stats, heartbeatAtUnixMs: old?.heartbeatAtUnixMs ?? 0 });
  }

  recordHeartbeat(storeId: number, stats: pdpb.StoreStats, nowUnixMs: number): void {
    const old = this.byId.get(storeId);
    if (old === undefined) throw new RangeError(`store ${storeId} is not registered`);
    this.byId.set(storeId, { store: old.store, stats, heartbeatAtUnixMs: nowUnixMs });
  }

  /** The store registered (non-tombstone) at `address`, other than `exceptStoreId`. */
  findByAddress(address: string, exceptStoreId: number): StoreInfo | undefined {
    for (const [id, info] of this.byId) {
      if (
        id !== exceptStoreId &&
        info.store.address === address &&
        info.store.state !== metapb.StoreState.TOMBSTONE
      )
        return info;
    }
    return undefined;
  }

  /** All stores by ascending id. */
  all(): StoreInfo[] {
    return [...this.byId.entries()].sort(([a], [b]) => a - b).map(([, info]) => info);
  }
}
