// The faults of a run, drawn from its seed, one every few dozen ticks (they overlap):
//   partition      the stores split in two groups, both ways, for a while
//   isolate        one store (often a leader's) cut off both ways
//   oneWayCut      one direction of one link
//   badNetwork     loss, duplication and delay (frames reorder) for a while
//   crash          a store stops (half the time with power loss: unsynced writes rolled
//                  back) and restarts later; long enough and PD replaces its replicas
//   transferLeader a region's leader hands leadership to a random voter
//   split          a region splits at a random key, on its leader, ids from PD
//   merge          a region's leader merges it into an adjacent region it holds (PD's merge
//                  checker merges small neighbours too); the range invariants and the
//                  replica agreement check cover merges unchanged
import { compareBytes } from '../../../server/src/storage/bytes.js';
import type { Store } from '../../../server/src/store/store.js';
import type { SimRandom } from '../sim/prng.js';
import { keyName } from './run-config.js';
import type { SimLoop } from './sim-loop.js';
import { STEPS_PER_TICK } from './sim-loop.js';
import type { SimNetwork } from './sim-network.js';
import type { SimStoreNode } from './sim-store-node.js';

export type FaultKind =
  'partition' | 'isolate' | 'oneWayCut' | 'badNetwork' | 'crash' | 'transferLeader' | 'split' | 'merge';

/** Relative weights of the fault kinds. */
const FAULT_WEIGHTS: ReadonlyArray<readonly [FaultKind, number]> = [
  ['partition', 2],
  ['isolate', 3],
  ['oneWayCut', 2],
  ['badNetwork', 3],
  ['crash', 3],
  ['transferLeader', 3],
  ['split', 3],
  ['merge', 3],
];

export interface FaultWorld {
  readonly loop: SimLoop;
  readonly network: SimNetwork;
  readonly nodes: readonly SimStoreNode[];
  readonly keysCount: number;
  readonly crashedMax: number;
  readonly trace: (line: string) => void;
  /** Runs a background task of the harness; its failure fails the run. */
  readonly background: (what: string, task: Promise<unknown>) => void;
}

export class FaultInjector {
  faultsCount = 0;
  readonly byKind = new Map<FaultKind, number>();
  /** Stores crashed and not yet restarted. */
  private readonly down = new Set<number>();
  private healed = false;

  constructor(
    private readonly world: FaultWorld,
    private readonly random: SimRandom,
  ) {}

  fire(): void {
    const kind = pickWeighted(this.random, FAULT_WEIGHTS);
    const description = this.apply(kind);
    if (description === undefined) return;
    this.faultsCount++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    this.world.trace(`fault ${kind}: ${description}`);
  }

  /** Ends every fault: links back, calm network, crashed stores restarted. */
  heal(): void {
    this.healed = true;
    const { network } = this.world;
    network.healLinks();
    network.conditions = { lossPermille: 0, duplicatePermille: 0, delayStepsMax: 1 };
    for (const node of this.world.nodes) {
      if (!node.up && this.down.has(node.storeId)) this.restart(node);
    }
    this.world.trace('heal: links restored, network calm, crashed stores restarting');
  }

  private apply(kind: FaultKind): string | undefined {
    switch (kind) {
      case 'partition':
        return this.partition();
      case 'isolate':
        return this.isolate();
      case 'oneWayCut':
        return this.oneWayCut();
      case 'badNetwork':
        return this.badNetwork();
      case 'crash':
        return this.crash();
      case 'transferLeader':
        return this.transferLeader();
      case 'split':
        return this.split();
      case 'merge':
        return this.merge();
    }
  }

  private durationTicks(): number {
    return this.random.intBetween(10, 150);
  }

  /** Cuts the given directed links now and restores them after the fault's duration. */
  private cutFor(links: ReadonlyArray<readonly [number, number]>, ticks: number): void {
    const { network, loop } = this.world;
    for (const [from, to] of links) network.cut(from, to);
    loop.after(ticks * STEPS_PER_TICK, () => {
      if (this.healed) return;
      for (const [from, to] of links) network.uncut(from, to);
    });
  }

  private storeIds(): number[] {
    return this.world.nodes.map((n) => n.storeId);
  }

  private partition(): string {
    const ids = this.storeIds();
    const side = ids.filter(() => this.random.chancePermille(500));
    if (side.length === 0 || side.length === ids.length) side.splice(0, side.length, this.random.pick(ids));
    const other = ids.filter((id) => !side.includes(id));
    const links: Array<[number, number]> = [];
    for (const a of side) for (const b of other) links.push([a, b], [b, a]);
    const ticks = this.durationTicks();
    this.cutFor(links, ticks);
    return `{${side.join(',')}} | {${other.join(',')}} for ${ticks} ticks`;
  }

  private isolate(): string {
    const leaders = this.world.nodes.filter((n) => n.store !== undefined && leaderCount(n.store) > 0);
    const target =
      this.random.chancePermille(600) && leaders.length > 0 ? this.random.pick(leaders) : undefined;
    const storeId = target?.storeId ?? this.random.pick(this.storeIds());
    const links: Array<[number, number]> = [];
    for (const other of this.storeIds())
      if (other !== storeId) links.push([storeId, other], [other, storeId]);
    const ticks = this.durationTicks();
    this.cutFor(links, ticks);
    return `store ${storeId} for ${ticks} ticks`;
  }

  private oneWayCut(): string {
    const from = this.random.pick(this.storeIds());
    const to = this.random.pick(this.storeIds().filter((id) => id !== from));
    const ticks = this.durationTicks();
    this.cutFor([[from, to]], ticks);
    return `${from} -> ${to} for ${ticks} ticks`;
  }

  private badNetwork(): string {
    const { network, loop } = this.world;
    const conditions = {
      lossPermille: this.random.intBetween(0, 200),
      duplicatePermille: this.random.intBetween(0, 100),
      delayStepsMax: this.random.intBetween(1, 6 * STEPS_PER_TICK),
    };
    network.conditions = conditions;
    const ticks = this.durationTicks();
    loop.after(ticks * STEPS_PER_TICK, () => {
      if (network.conditions === conditions)
        network.conditions = { ...conditions, lossPermille: 0, duplicatePermille: 0, delayStepsMax: 1 };
    });
    return `loss ${conditions.lossPermille}‰, duplication ${conditions.duplicatePermille}‰, delay up to ${conditions.delayStepsMax} steps for ${ticks} ticks`;
  }

  private crash(): string | undefined {
    if (this.down.size >= this.world.crashedMax) return undefined;
    const up = this.world.nodes.filter((n) => n.up);
    const leaders = up.filter((n) => n.store !== undefined && leaderCount(n.store) > 0);
    const node =
      this.random.chancePermille(500) && leaders.length > 0
        ? this.random.pick(leaders)
        : this.random.pick(up);
    const powerLoss = this.random.chancePermille(500);
    const ticks = this.random.intBetween(20, 600);
    this.down.add(node.storeId);
    this.world.background(`crash of store ${node.storeId}`, node.crash(powerLoss));
    this.world.loop.after(ticks * STEPS_PER_TICK, () => {
      if (!this.healed && !node.up && this.down.has(node.storeId)) this.restart(node);
    });
    return `store ${node.storeId}${powerLoss ? ' with power loss' : ''}, restart in ${ticks} ticks`;
  }

  private restart(node: SimStoreNode): void {
    this.down.delete(node.storeId);
    this.world.trace(`restart store ${node.storeId}`);
    this.world.background(`restart of store ${node.storeId}`, node.start());
  }

  private transferLeader(): string | undefined {
    const led = this.ledRegions();
    if (led.length === 0) return undefined;
    const { store, regionId } = this.random.pick(led);
    const peer = store.region(regionId);
    if (peer === undefined) return undefined;
    const voters = peer.region.peers.filter((p) => p.role === 'voter' && p.id !== peer.peerId);
    if (voters.length === 0) return undefined;
    const to = this.random.pick(voters);
    const error = store.transferLeader(regionId, to.id);
    return `region ${regionId} from store ${store.storeId} to store ${to.storeId}${error ? ` (refused: ${error.kind})` : ''}`;
  }

  private split(): string | undefined {
    const led = this.ledRegions();
    if (led.length === 0) return undefined;
    const { store, regionId } = this.random.pick(led);
    const peer = store.region(regionId);
    if (peer === undefined) return undefined;
    // Between two client keys half the time, on a client key otherwise.
    const base = keyName(this.random.nextInt(this.world.keysCount));
    const splitKey = Buffer.from(this.random.chancePermille(500) ? `${base}m` : base);
    const { startKey, endKey } = peer.region;
    const inside =
      compareBytes(splitKey, startKey) > 0 && (endKey.length === 0 || compareBytes(splitKey, endKey) < 0);
    if (!inside) return undefined;
    const outcome = store.splitRegion(regionId, peer.region.epoch, [splitKey]);
    this.world.background(
      `split of region ${regionId}`,
      outcome.then((o) =>
        this.world.trace(`split of region ${regionId} at ${splitKey.toString()}: ${o.kind}`),
      ),
    );
    return `region ${regionId} at ${splitKey.toString()} on store ${store.storeId}`;
  }

  private merge(): string | undefined {
    const led = this.ledRegions();
    if (led.length === 0) return undefined;
    const { store, regionId } = this.random.pick(led);
    const source = store.region(regionId);
    if (source === undefined) return undefined;
    const { startKey, endKey } = source.region;
    const neighbours = store
      .allRegions()
      .filter(
        (p) =>
          p.initialized &&
          ((endKey.length > 0 && compareBytes(p.region.startKey, endKey) === 0) ||
            (p.region.endKey.length > 0 && compareBytes(p.region.endKey, startKey) === 0)),
      );
    if (neighbours.length === 0) return undefined;
    const target = this.random.pick(neighbours);
    const outcome = store.mergeRegion(regionId, source.region.epoch, target.regionId, target.region.epoch);
    this.world.background(
      `merge of region ${regionId}`,
      outcome.then((o) =>
        this.world.trace(
          `merge of region ${regionId} into ${target.regionId}: ${o.kind}${o.kind === 'rejected' ? ` (${o.reason})` : ''}`,
        ),
      ),
    );
    return `region ${regionId} into region ${target.regionId} on store ${store.storeId}`;
  }

  private ledRegions(): Array<{ store: Store; regionId: number }> {
    const out: Array<{ store: Store; regionId: number }> = [];
    for (const node of this.world.nodes) {
      const store = node.store;
      if (store === undefined) continue;
      for (const peer of store.allRegions())
        if (peer.initialized && peer.node.basicStatus().role === 'leader')
          out.push({ store, regionId: peer.regionId });
    }
    return out;
  }
}

function leaderCount(store: Store): number {
  return store.allRegions().filter((p) => p.node.basicStatus().role === 'leader').length;
}

function pickWeighted<T>(random: SimRandom, weights: ReadonlyArray<readonly [T, number]>): T {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let roll = random.nextInt(total);
  for (const [item, weight] of weights) {
    if (roll < weight) return item;
    roll -= weight;
  }
  throw new Error('pickWeighted: no item');
}
