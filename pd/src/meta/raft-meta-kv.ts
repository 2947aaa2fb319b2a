// MetaKv over the embedded store's meta region: writes are proposed through Raft (the
// same commands a client Put or CompareAndSwap becomes), reads wait for a linearizable read
// barrier and then read the applied state. Only the meta region's leader can serve; any
// refusal surfaces as a MetaStoreError, which the PD service turns into NOT_LEADER.
import type { KeyRange } from '../../../server/src/storage/engine.js';
import { keySuccessor } from '../../../server/src/storage/bytes.js';
import { dataKey, userKeyOf } from '../../../server/src/storage/keys.js';
import type { Store } from '../../../server/src/store/store.js';
import type { CommandResult } from '../../../server/src/store/command-apply.js';
import { encodeCompareAndSwap, encodeWrite } from '../../../server/src/store/command-builder.js';
import type { RegionError } from '../../../server/src/store/region-error.js';
import { describeRegionError } from '../../../server/src/store/region-error.js';
import { liveValue } from '../../../server/src/store/user-value.js';
import type { CompareAndSwapOutcome, MetaKeyValue, MetaKv, MetaMutation } from './meta-kv.js';
import { MetaStoreError } from './meta-kv.js';

/** The one region of a PD member's embedded store. */
export const META_REGION_ID = 1;

/** A meta operation not done by then is reported UNAVAILABLE (leadership may be moving). */
const META_OPERATION_TIMEOUT_MS = 5000;

/** Pairs read per engine scan while paging through a range. */
const SCAN_PAGE_SIZE = 10_000;

export class RaftMetaKv implements MetaKv {
  constructor(
    private readonly store: Store,
    private readonly memberId: number,
    private readonly nowUnixMs: () => number = () => Date.now(),
  ) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    await this.barrier();
    return liveValue(this.store.engineGet(dataKey(key)), this.nowUnixMs());
  }

  /** This member's applied value, without a barrier: for facts that never change once set (the cluster id). */
  readLocal(key: Uint8Array): Uint8Array | undefined {
    return liveValue(this.store.engineGet(dataKey(key)), this.nowUnixMs());
  }

  async scan(range: KeyRange, limit: number): Promise<MetaKeyValue[]> {
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new RangeError(`scan limit must be positive, got ${limit}`);
    await this.barrier();
    const end = range.end === null ? null : dataKey(range.end);
    let start = dataKey(range.start);
    const out: MetaKeyValue[] = [];
    const now = this.nowUnixMs();
    while (out.length < limit) {
      const page = await this.store.engineScan(
        { start, end },
        { limit: Math.min(SCAN_PAGE_SIZE, limit - out.length) },
      );
      for (const kv of page) {
        const value = liveValue(kv.value, now);
        if (value !== undefined)
          out.push({ key: Uint8Array.from(userKeyOf(kv.key)), value: Uint8Array.from(value) });
      }
      const last = page.at(-1);
      if (last === undefined || page.length < SCAN_PAGE_SIZE) break;
      start = keySuccessor(last.key);
    }
    return out;
  }

  async write(mutations: readonly MetaMutation[]): Promise<void> {
    if (mutations.length === 0) return;
    const result = await this.propose((origin) => encodeWrite(origin, mutations));
    if (result.kind !== 'write') throw new Error(`meta write applied as ${result.kind}`);
  }

  async compareAndSwap(
    key: Uint8Array,
    expectedValue: Uint8Array | undefined,
    newValue: Uint8Array | undefined,
  ): Promise<CompareAndSwapOutcome> {
    const result = await this.propose((origin) =>
      encodeCompareAndSwap(origin, { key, expectedValue, newValue }),
    );
    if (result.kind !== 'compareAndSwap') throw new Error(`meta compare-and-swap applied as ${result.kind}`);
    return { succeeded: result.succeeded, previousValue: result.previousValue };
  }

  private async barrier(): Promise<void> {
    this.checkLeader();
    const error = await withTimeout(this.store.readBarrier(META_REGION_ID, 'safe'), 'read barrier');
    if (error !== undefined) throw refusal(error);
  }

  private async propose(
    encode: (origin: {
      region: NonNullable<ReturnType<Store['regionMeta']>>;
      peerId: number;
      nowUnixMs: number;
    }) => Uint8Array,
  ): Promise<CommandResult> {
    this.checkLeader();
    const region = this.store.regionMeta(META_REGION_ID);
    if (region === undefined) throw new MetaStoreError('UNAVAILABLE', 'this member holds no meta region');
    const data = encode({ region, peerId: this.memberId, nowUnixMs: this.nowUnixMs() });
    const result = await withTimeout(this.store.propose(META_REGION_ID, data), 'proposal');
    if (result.kind === 'regionError') throw refusal(result.error);
    return result;
  }

  private checkLeader(): void {
    const role = this.store.node(META_REGION_ID)?.basicStatus().role;
    if (role !== 'leader')
      throw new MetaStoreError('NOT_LEADER', `PD member ${this.memberId} is not the leader`);
  }
}

function refusal(error: RegionError): MetaStoreError {
  const code = error.kind === 'notLeader' || error.kind === 'regionNotFound' ? 'NOT_LEADER' : 'UNAVAILABLE';
  return new MetaStoreError(code, `meta store: ${describeRegionError(error)}`);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MetaStoreError('UNAVAILABLE', `meta ${what} not done within ${META_OPERATION_TIMEOUT_MS} ms`),
        ),
      META_OPERATION_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
