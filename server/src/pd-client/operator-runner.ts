// Carries out the operators PD sends back on the region heartbeat stream: a membership
// change, a leader transfer, a split, a merge (sent to the source region's leader). An operator is one step PD computed from a report;
// the store checks it still applies before acting — the region must still be led here by
// the peer PD addressed, at the epoch PD saw — and otherwise ignores it: PD sees the
// region's new state in the next report and decides again. One operator per region runs
// at a time; the number of regions with one running is bounded.
import { pdpb } from '@flotilla/proto';
import { describeRegionError } from '../store/region-error.js';
import type { RegionEpoch } from '../store/region-meta.js';
import { epochFromProto, epochMatches, regionFromProto } from '../store/region-meta.js';
import { confChangeOf } from '../store/peer-change.js';
import type { Store } from '../store/store.js';
import type { StoreConfig } from '../store/store-config.js';
import { measureRegion } from '../store/split-checker.js';

/** Regions with an operator running at once; more are ignored until one finishes. */
const RUNNING_OPERATORS_MAX = 256;

/** How a split operator asks the store to split (keys given, or found by the store); resolves with the problem, if any. */
export type SplitRequest = (
  regionId: number,
  epoch: RegionEpoch,
  splitKeys: readonly Uint8Array[] | 'halve',
) => Promise<string | undefined>;

export interface OperatorRunnerOptions {
  readonly store: Store;
  readonly split: SplitRequest;
  readonly log: (line: string) => void;
}

export class OperatorRunner {
  private readonly running = new Set<number>();
  readonly counters = { started: 0, succeeded: 0, failed: 0, ignored: 0 };

  constructor(private readonly options: OperatorRunnerOptions) {}

  handle(res: pdpb.RegionHeartbeatResponse): void {
    const op = res.operator;
    if (op === undefined) return;
    const regionId = Number(res.regionId);
    const peer = this.options.store.region(regionId);
    const epoch = epochFromProto(res.regionEpoch, 'regionEpoch');
    const why =
      peer === undefined
        ? 'region not here'
        : peer.node.basicStatus().role !== 'leader'
          ? 'not the leader'
          : res.targetPeer !== undefined && Number(res.targetPeer.id) !== peer.peerId
            ? `addressed to peer ${res.targetPeer.id}`
            : !epochMatches(peer.region.epoch, epoch)
              ? `epoch ${JSON.stringify(epoch)} is not the region's ${JSON.stringify(peer.region.epoch)}`
              : this.running.has(regionId)
                ? 'another operator is running'
                : this.running.size >= RUNNING_OPERATORS_MAX
                  ? 'too many operators running'
                  : undefined;
    if (why !== undefined) {
      // PD sees the region's state in the next report and decides again.
      this.counters.ignored++;
      this.options.log(`operator ignored: region ${regionId} ${op.$case}: ${why}`);
      return;
    }
    this.running.add(regionId);
    this.counters.started++;
    const what = `region ${regionId} ${op.$case}`;
    this.run(regionId, epoch, op)
      .then((error) => {
        if (error === undefined) {
          this.counters.succeeded++;
          this.options.log(`operator done: ${what}`);
        } else {
          this.counters.failed++;
          this.options.log(`operator failed: ${what}: ${error}`);
        }
      })
      .finally(() => this.running.delete(regionId));
  }

  private async run(
    regionId: number,
    epoch: RegionEpoch,
    op: NonNullable<pdpb.RegionHeartbeatResponse['operator']>,
  ): Promise<string | undefined> {
    const { store } = this.options;
    try {
      switch (op.$case) {
        case 'changePeer': {
          const cc = confChangeOf(op.changePeer.transition, op.changePeer.changes);
          const result = await store.proposeConfChange(regionId, cc);
          if (result.kind === 'regionError') return describeRegionError(result.error);
          return result.kind === 'outcomeUnknown' ? result.reason : undefined;
        }
        case 'transferLeader': {
          const to = op.transferLeader.peer;
          if (to === undefined) return 'transfer without a target peer';
          const error = store.transferLeader(regionId, Number(to.id));
          return error === undefined ? undefined : describeRegionError(error);
        }
        case 'splitRegion': {
          const { policy, keys } = op.splitRegion;
          const splitKeys =
            policy === pdpb.SplitPolicy.USE_KEY ? keys.map((k) => new Uint8Array(k)) : 'halve';
          if (splitKeys !== 'halve' && splitKeys.length === 0) return 'split without keys';
          return await this.options.split(regionId, epoch, splitKeys);
        }
        case 'merge': {
          const target = op.merge.target;
          if (target === undefined) return 'merge without a target region';
          const targetMeta = regionFromProto(target, 'merge.target');
          const outcome = await store.mergeRegion(regionId, epoch, targetMeta.id, targetMeta.epoch);
          switch (outcome.kind) {
            case 'merged':
              return undefined;
            case 'regionError':
              return describeRegionError(outcome.error);
            case 'rejected':
              return outcome.reason;
          }
        }
      }
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }
}

/** A split PD asked for: at the given keys, or at the key that halves the region. */
export async function splitForOperator(
  store: Store,
  config: Pick<StoreConfig, 'regionSplitSizeBytes' | 'regionSplitKeys'>,
  regionId: number,
  epoch: RegionEpoch,
  keys: readonly Uint8Array[] | 'halve',
): Promise<string | undefined> {
  let splitKeys = keys;
  if (splitKeys === 'halve') {
    const region = store.regionMeta(regionId);
    if (region === undefined) return `region ${regionId} is not on this store`;
    const measure = await measureRegion(store, region, config);
    if (measure.splitKey === undefined) return `region ${regionId} has no key to split at`;
    splitKeys = [measure.splitKey];
  }
  const outcome = await store.splitRegion(regionId, epoch, splitKeys);
  switch (outcome.kind) {
    case 'split':
      return undefined;
    case 'regionError':
      return describeRegionError(outcome.error);
    case 'rejected':
      return outcome.reason;
  }
}
