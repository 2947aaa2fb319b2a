// One simulated store node: a real Store over a MemoryEngine that outlives its crashes, the
// real KvHandlers clients call (the same request path the gRPC service takes), and the real
// OperatorRunner for PD's operators. Its clock and scheduling come from the simulation loop
// and its Raft randomness from the run's seed (per store, region and incarnation). A crash
// stops the Store (pending requests learn their fate is unknown) and, as a power loss, may
// roll the engine back to its last synced write; a restart loads the regions from the engine
// the way a real node does.
import { KvHandlers } from '../../../server/src/service/kv-handlers.js';
import { KV_LIMITS_DEFAULTS } from '../../../server/src/service/kv-limits.js';
import { OperatorRunner, splitForOperator } from '../../../server/src/pd-client/operator-runner.js';
import { MemoryEngine } from '../../../server/src/storage/memory-engine.js';
import { bootstrapRegionIfEmpty, loadRegionPeers } from '../../../server/src/store/region-loader.js';
import type { RegionMeta } from '../../../server/src/store/region-meta.js';
import type { StoreConfig } from '../../../server/src/store/store-config.js';
import { resolveStoreConfig } from '../../../server/src/store/store-config.js';
import { Store } from '../../../server/src/store/store.js';
import { SimRandom } from '../sim/prng.js';
import type { SimLoop } from './sim-loop.js';
import { STEPS_PER_TICK, TICK_MS } from './sim-loop.js';
import type { SimNetwork } from './sim-network.js';
import type { SimPd } from './sim-pd.js';

export interface SimStoreNodeDeps {
  readonly storeId: number;
  readonly seed: number;
  readonly config: Partial<StoreConfig>;
  readonly loop: SimLoop;
  readonly network: SimNetwork;
  readonly pd: SimPd;
  readonly log: (line: string) => void;
  /** A store loop died (onFatal): always a failure of the run. */
  readonly onFatal: (storeId: number, error: Error) => void;
}

export class SimStoreNode {
  readonly engine = new MemoryEngine();
  readonly config: StoreConfig;
  store: Store | undefined;
  handlers: KvHandlers | undefined;
  private runner: OperatorRunner | undefined;
  incarnation = 0;
  crashesCount = 0;
  powerLossesCount = 0;

  constructor(private readonly deps: SimStoreNodeDeps) {
    this.config = resolveStoreConfig({ storeId: deps.storeId, ...deps.config });
  }

  get storeId(): number {
    return this.deps.storeId;
  }

  get up(): boolean {
    return this.store !== undefined;
  }

  /** Writes the bootstrap region (first store only), before the first start. */
  async bootstrap(region: RegionMeta): Promise<void> {
    await bootstrapRegionIfEmpty(this.engine, region, this.storeId);
  }

  async start(): Promise<void> {
    if (this.store !== undefined) throw new Error(`store ${this.storeId} is already running`);
    const { loop, pd, network } = this.deps;
    this.incarnation++;
    const incarnation = this.incarnation;
    const randomFor = (regionId: number): SimRandom =>
      new SimRandom(this.deps.seed * 7919 + this.storeId * 104_729 + regionId * 31 + incarnation * 1_000_003);
    const store = new Store({
      config: this.config,
      engine: this.engine,
      clock: { nowUnixMs: () => loop.nowUnixMs(), defer: (fn) => loop.defer(fn) },
      sleepMs: (ms) => loop.sleep(Math.max(1, Math.ceil((ms * STEPS_PER_TICK) / TICK_MS))),
      outbox: network.outboxFor(this.storeId),
      onFatal: (error) => this.deps.onFatal(this.storeId, error),
      splitIds: pd.splitIds(),
      // A merge reaches PD with the target's next report (its epoch changed).
      onRegionsChanged: (event) => (event.kind === 'split' ? pd.reportSplit(event.regions) : undefined),
      randomFor,
    });
    const peers = await loadRegionPeers({
      engine: this.engine,
      config: this.config,
      randomFor,
      requestSnapshot: (regionId) => store.requestSnapshot(regionId),
    });
    for (const peer of peers) store.addRegion(peer);
    this.store = store;
    this.handlers = new KvHandlers(store, KV_LIMITS_DEFAULTS, {
      nowUnixMs: () => loop.nowUnixMs(),
      defer: (fn) => loop.defer(fn),
    });
    const runner = new OperatorRunner({
      store,
      split: (regionId, epoch, keys) => splitForOperator(store, this.config, regionId, epoch, keys),
      log: (line) => this.deps.log(`store ${this.storeId}: ${line}`),
    });
    this.runner = runner;
    pd.attachStore(this.storeId, (response) => {
      if (this.runner === runner) runner.handle(response);
    });
  }

  /** Stops the store; with `powerLoss`, writes not covered by a synced write are lost too. */
  async crash(powerLoss: boolean): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    this.store = undefined;
    this.handlers = undefined;
    this.runner = undefined;
    this.crashesCount++;
    this.deps.pd.detachStore(this.storeId);
    await store.stop();
    if (powerLoss) {
      this.engine.crash();
      this.powerLossesCount++;
    }
  }
}
