// Keeps every region at maxReplicas healthy voters, checked on each of its heartbeats:
//   - a learner on a healthy store that has caught up (not pending) is promoted; one on a
//     store being evacuated is removed;
//   - a voter on a down, offline or tombstone store is replaced: a learner is added on the
//     healthy store holding the fewest replicas, promoted once caught up, and only then is
//     the old voter removed (after moving leadership off it if needed), so the region never
//     runs with fewer healthy voters than before;
//   - too few voters: add one the same way; too many: remove one from a store whose disk is
//     not NORMAL first, else from the fullest store.
// New replicas never go to a store whose disk is not NORMAL or whose available space would
// drop below its reserve with the region's approximate size added (store-disk.ts); a leader
// handed over before a removal goes to a voter on a NORMAL disk when there is one.
// A region in a joint configuration is left alone: its leader leaves it by itself.
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { OperatorStep } from './operator.js';
import type { StoreHealth } from './store-health.js';
import { mustEvacuate } from './store-health.js';
import type { DiskView } from './store-disk.js';
import { describeDisk, diskNotNormal, refusesData } from './store-disk.js';

export interface PlacementView {
  /** Health of every known store. */
  readonly health: ReadonlyMap<number, StoreHealth>;
  /** Replicas per store (from the region tree, plus those operators are adding). */
  readonly replicaCounts: ReadonlyMap<number, number>;
  /** Disk of every store that reported one. */
  readonly disks: DiskView;
}

export interface ReplicaPlan {
  readonly description: string;
  /** Steps; a peer with id 0 is a new peer whose id the scheduler allocates when it creates the operator. */
  readonly steps: readonly OperatorStep[];
}

/**
 * The healthy store without a peer of the region holding the fewest replicas (lowest id on
 * ties) that may receive `sizeBytes` more data (its disk NORMAL, its reserve kept).
 */
export function pickTargetStore(
  view: PlacementView,
  peers: readonly PeerMeta[],
  excludeStoreIds: ReadonlySet<number> = new Set(),
  sizeBytes = 0,
): number | undefined {
  let best: number | undefined;
  let bestCount = Infinity;
  for (const storeId of candidateStores(view, peers, excludeStoreIds)) {
    if (refusesData(view.disks.get(storeId), sizeBytes) !== undefined) continue;
    const count = view.replicaCounts.get(storeId) ?? 0;
    if (count < bestCount) {
      best = storeId;
      bestCount = count;
    }
  }
  return best;
}

/** Up stores without a peer of the region, by ascending id. */
function candidateStores(
  view: PlacementView,
  peers: readonly PeerMeta[],
  excludeStoreIds: ReadonlySet<number>,
): number[] {
  const taken = new Set(peers.map((p) => p.storeId));
  return [...view.health]
    .filter(([id, h]) => h === 'up' && !taken.has(id) && !excludeStoreIds.has(id))
    .map(([id]) => id)
    .sort((a, b) => a - b);
}

/** "; not on store 3: disk almost full (...)" for each candidate the disk rule skipped ("" if none). */
export function diskSkipNote(view: PlacementView, peers: readonly PeerMeta[], sizeBytes: number): string {
  const notes: string[] = [];
  for (const storeId of candidateStores(view, peers, new Set())) {
    const why = refusesData(view.disks.get(storeId), sizeBytes);
    if (why !== undefined) notes.push(`not on store ${storeId}: ${why}`);
  }
  return notes.length === 0 ? '' : `; ${notes.join('; ')}`;
}

export function checkReplicas(
  info: RegionInfo,
  view: PlacementView,
  maxReplicas: number,
): ReplicaPlan | undefined {
  const { region, leader } = info;
  if (leader === undefined) return undefined;
  if (region.peers.some((p) => p.role === 'incomingVoter' || p.role === 'demotingVoter')) return undefined;
  const evacuate = (p: PeerMeta): boolean => mustEvacuate(view.health.get(p.storeId));
  const pending = new Set(info.pendingPeers.map((p) => p.id));
  const down = new Set(info.downPeers.map((d) => d.peer.id));

  const learners = region.peers.filter((p) => p.role === 'learner');
  for (const learner of learners) {
    if (evacuate(learner))
      return {
        description: `remove learner ${learner.id} from store ${learner.storeId} (store unavailable)`,
        steps: [{ kind: 'removePeer', peer: learner }],
      };
  }
  const learner = learners[0];
  if (learner !== undefined) {
    if (pending.has(learner.id) || down.has(learner.id)) {
      // Still catching up. On a store whose disk is not NORMAL it may never catch up (it
      // cannot take the data): remove it so that the replica goes elsewhere.
      const disk = view.disks.get(learner.storeId);
      if (disk !== undefined && diskNotNormal(disk))
        return {
          description: `remove learner ${learner.id} still catching up on store ${learner.storeId} (${describeDisk(disk)})`,
          steps: [{ kind: 'removePeer', peer: learner }],
        };
      return undefined;
    }
    return {
      description: `promote learner ${learner.id} on store ${learner.storeId}`,
      steps: [{ kind: 'promoteLearner', peer: learner }],
    };
  }

  const voters = region.peers.filter((p) => p.role === 'voter');
  const bad = voters.filter(evacuate);
  const healthyVoters = voters.length - bad.length;
  if (bad.length > 0 || voters.length < maxReplicas) {
    const sizeBytes = info.load.approximateSizeBytes;
    const target = pickTargetStore(view, region.peers, new Set(), sizeBytes);
    if (target !== undefined && healthyVoters < maxReplicas) {
      const skipped = diskSkipNote(view, region.peers, sizeBytes);
      const added: PeerMeta = { id: 0, storeId: target, role: 'learner' };
      const steps: OperatorStep[] = [
        { kind: 'addLearner', peer: added },
        { kind: 'promoteLearner', peer: added },
      ];
      const victim = bad[0];
      if (victim !== undefined && voters.length >= maxReplicas) {
        if (victim.id === leader.id) {
          const heirs = voters.filter((v) => v.id !== victim.id && !evacuate(v));
          const heir = heirs.find((v) => !diskNotNormal(view.disks.get(v.storeId))) ?? heirs[0];
          if (heir === undefined) return undefined;
          steps.push({ kind: 'transferLeader', peer: heir });
        }
        steps.push({ kind: 'removePeer', peer: victim });
        return {
          description: `replace voter ${victim.id} on store ${victim.storeId} (store unavailable) by a replica on store ${target}${skipped}`,
          steps,
        };
      }
      return {
        description: `add a replica on store ${target} (${healthyVoters} healthy of ${maxReplicas}${skipped})`,
        steps,
      };
    }
    // No store to move to: with enough voters, drop the unavailable one only if the rest still
    // make up maxReplicas (never shrink a region below its replica count).
    const victim = bad[0];
    if (victim !== undefined && voters.length > maxReplicas && victim.id !== leader.id)
      return {
        description: `remove voter ${victim.id} on unavailable store ${victim.storeId}`,
        steps: [{ kind: 'removePeer', peer: victim }],
      };
    return undefined;
  }
  if (voters.length > maxReplicas) {
    const full = (p: PeerMeta): number => (diskNotNormal(view.disks.get(p.storeId)) ? 1 : 0);
    const removable = voters
      .filter((v) => v.id !== leader.id)
      .sort(
        (a, b) =>
          full(b) - full(a) ||
          (view.replicaCounts.get(b.storeId) ?? 0) - (view.replicaCounts.get(a.storeId) ?? 0) ||
          b.storeId - a.storeId,
      );
    const victim = removable[0];
    if (victim === undefined) return undefined;
    const disk = view.disks.get(victim.storeId);
    const why =
      disk !== undefined && full(victim) === 1 ? `; store ${victim.storeId}'s ${describeDisk(disk)}` : '';
    return {
      description: `remove extra voter ${victim.id} from store ${victim.storeId} (${voters.length} > ${maxReplicas}${why})`,
      steps: [{ kind: 'removePeer', peer: victim }],
    };
  }
  return undefined;
}
