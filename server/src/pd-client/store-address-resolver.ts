// Where another store listens, asked of PD (GetStore) and cached for a short time. The
// transport asks on every (re)connect, so a store that restarted on a new address is found
// again once its entry expires; concurrent lookups of one store share one PD call. A
// tombstone store has no address: lookups are refused and the transport keeps backing off.
import { metapb } from '@flotilla/proto';
import type { PdClient } from './pd-client.js';

/** How long a looked-up address is trusted. */
export const STORE_ADDRESS_TTL_MS_DEFAULT = 10_000;
/** Cached stores; more than a cluster has. */
const CACHED_STORES_MAX = 10_000;

export class StoreAddressError extends Error {
  readonly code = 'STORE_ADDRESS';
  constructor(message: string) {
    super(message);
    this.name = 'StoreAddressError';
  }
}

export class StoreAddressResolver {
  private readonly cache = new Map<number, { address: string; fetchedAtMs: number }>();
  private readonly inFlight = new Map<number, Promise<string>>();

  constructor(
    private readonly pd: PdClient,
    private readonly nowMs: () => number = Date.now,
    private readonly ttlMs = STORE_ADDRESS_TTL_MS_DEFAULT,
  ) {}

  resolve(storeId: number): Promise<string> {
    const cached = this.cache.get(storeId);
    if (cached !== undefined && this.nowMs() - cached.fetchedAtMs < this.ttlMs)
      return Promise.resolve(cached.address);
    let lookup = this.inFlight.get(storeId);
    if (lookup === undefined) {
      lookup = this.lookup(storeId).finally(() => this.inFlight.delete(storeId));
      this.inFlight.set(storeId, lookup);
    }
    return lookup;
  }

  invalidate(storeId: number): void {
    this.cache.delete(storeId);
  }

  private async lookup(storeId: number): Promise<string> {
    const res = await this.pd.getStore(storeId);
    const store = res.store;
    if (store === undefined || store.address === '')
      throw new StoreAddressError(`PD knows no address for store ${storeId}`);
    if (store.state === metapb.StoreState.TOMBSTONE)
      throw new StoreAddressError(`store ${storeId} is a tombstone`);
    if (this.cache.size >= CACHED_STORES_MAX) this.cache.clear();
    this.cache.set(storeId, { address: store.address, fetchedAtMs: this.nowMs() });
    return store.address;
  }
}
