// Keeps every region at maxReplicas healthy voters, checked on each of its heartbeats:
//   - a learner on a healthy store that has caught up (not pending) is promoted; one on a
//     store being evacuated is removed;
//   - a voter on a down, offline or tombstone store is replaced: a learner is added on the
//     healthy store holding the fewest replicas, promoted once caught up, and only then is
//     the old voter removed (after moving leadership off it if needed), so the region never
//     runs with fewer healthy voters than before;
//   - too few voters: add one the same way; too many: remove one from the fullest store.
// A region in a joint configuration is left alone: its leader leaves it by itself.
import type { PeerMeta } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';
import type { OperatorStep } from './operator.js';
import type { StoreHealth } from './store-health.js';
import { mustEvacuate } from './store-health.js';

export interface PlacementView {
  /** Health of every known store. */
  readonly health: ReadonlyMap<number, StoreHealth>;
  /** Replicas per store (from the region tree, plus those operators are adding). */
  readonly replicaCounts: ReadonlyMap<number, number>;
}

export interface ReplicaPlan {
  readonly description: string;
  /** Steps; a peer with id 0 is a new peer whose id the scheduler allocates when it creates the operator. */
  readonly steps: readonly OperatorStep[];
}

/** The healthy store without a peer of the region holding the fewest replicas (lowest id on ties). */
export function pickTargetStore(
  view: PlacementView,
  peers: readonly PeerMeta[],
  excludeStoreIds: ReadonlySet<number> = new Set(),
): number | undefined {
  const taken = new Set(peers.map((p) => p.storeId));
  let best: number | undefined;
  let bestCount = Infinity;
  for (const [storeId, health] of [...view.health].sort(([a], [b]) => a - b)) {
    if (health !== 'up' || taken.has(storeId) || excludeStoreIds.has(storeId)) continue;
    const count = view.replicaCounts.get(storeId) ?? 0;
    if (count < bestCount) {
      best = storeId;
      bestCount = count;
    }
  }
  return best;
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
    if (pending.has(learner.id) || down.has(learner.id)) return undefined; // still catching up
    return {
      description: `promote learner ${learner.id} on store ${learner.storeId}`,
      steps: [{ kind: 'promoteLearner', peer: learner }],
    };
  }

  const voters = region.peers.filter((p) => p.role === 'voter');
  const bad = voters.filter(evacuate);
  const healthyVoters = voters.length - bad.length;
  if (bad.length > 0 || voters.length < maxReplicas) {
    const target = pickTargetStore(view, region.peers);
    if (target !== undefined && healthyVoters < maxReplicas) {
      const added: PeerMeta = { id: 0, storeId: target, role: 'learner' };
      const steps: OperatorStep[] = [
        { kind: 'addLearner', peer: added },
        { kind: 'promoteLearner', peer: added },
      ];
      const victim = bad[0];
      if (victim !== undefined && voters.length >= maxReplicas) {
        if (victim.id === leader.id) {
          const heir = voters.find((v) => v.id !== victim.id && !evacuate(v));
          if (heir === undefined) return undefined;
          steps.push({ kind: 'transferLeader', peer: heir });
        }
        steps.push({ kind: 'removePeer', peer: victim });
        return {
          description: `replace voter ${victim.id} on store ${victim.storeId} (store unavailable) by a replica on store ${target}`,
          steps,
        };
      }
      return {
        description: `add a replica on store ${target} (${healthyVoters} healthy of ${maxReplicas})`,
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
    const removable = voters
      .filter((v) => v.id !== leader.id)
      .sort(
        (a, b) =>
          (view.replicaCounts.get(b.storeId) ?? 0) - (view.replicaCounts.get(a.storeId) ?? 0) ||
          b.storeId - a.storeId,
      );
    const victim = removable[0];
    if (victim === undefined) return undefined;
    return {
      description: `remove extra voter ${victim.id} from store ${victim.storeId} (${voters.length} > ${maxReplicas})`,
      steps: [{ kind: 'removePeer', peer: victim }],
    };
  }
  return undefined;
}
