// An operator: the steps PD takes to change one region, e.g. to repair a replica (add a
// learner on a healthy store, promote it, remove the dead peer) or move a leader. PD sends
// one step at a time to the region's leader on its heartbeat stream; a step is done when a
// later heartbeat shows its effect (the region's peers, roles or leader changed as asked),
// never because the store said so. Only then is the next step sent. Every membership step
// changes one peer (simple Raft membership change: no joint configuration is needed, and
// a region never has fewer healthy voters than it started with, because the new replica is
// added and promoted before the old one is removed).
import type { pdpb } from '@flotilla/proto';
import { metapb, raftpb } from '@flotilla/proto';
import type { PeerMeta, RegionMeta } from '../../../server/src/store/region-meta.js';
import { regionToProto } from '../../../server/src/store/region-meta.js';
import type { RegionInfo } from '../cluster/region-info.js';

export type OperatorStep =
  | { readonly kind: 'addLearner'; readonly peer: PeerMeta }
  | { readonly kind: 'promoteLearner'; readonly peer: PeerMeta }
  | { readonly kind: 'removePeer'; readonly peer: PeerMeta }
  | { readonly kind: 'transferLeader'; readonly peer: PeerMeta }
  /**
   * Merge the region into the adjacent `target`, carried out by the region's leader `peer`.
   * Done when the region is gone from PD's map (its heartbeats cannot show it).
   */
  | { readonly kind: 'merge'; readonly peer: PeerMeta; readonly target: RegionMeta };

/** Why an operator exists: each kind has its own in-flight limit. */
export type OperatorKind =
  'replica' | 'balanceLeader' | 'balanceRegion' | 'hotRegion' | 'merge' | 'evictLeader' | 'balanceSpace';

export type OperatorStatus = 'running' | 'succeeded' | 'timedOut' | 'cancelled';

export interface Operator {
  readonly id: number;
  readonly regionId: number;
  readonly kind: OperatorKind;
  /** Human-readable reason, shown in status and logs. */
  readonly description: string;
  readonly steps: readonly OperatorStep[];
  readonly createdAtUnixMs: number;
  /** The region's leader store when the operator started (where a leader transfer moves from). */
  readonly leaderStoreIdAtStart: number | undefined;
  /** Index of the step in progress (steps.length once all are done). */
  stepIndex: number;
  /** When the current step was last sent (0: not yet). */
  sentAtUnixMs: number;
  status: OperatorStatus;
  finishedAtUnixMs: number;
}

/** Whether the region, as its leader last reported it, shows the step's effect. */
export function stepDone(step: OperatorStep, info: RegionInfo): boolean {
  const peer = info.region.peers.find((p) => p.id === step.peer.id);
  switch (step.kind) {
    case 'addLearner':
      return peer !== undefined;
    case 'promoteLearner':
      return peer?.role === 'voter';
    case 'removePeer':
      return peer === undefined;
    case 'transferLeader':
      return info.leader?.id === step.peer.id;
    case 'merge':
      return false;
  }
}

/**
 * Whether the step may be sent now. A learner is promoted only once it caught up (the
 * leader no longer reports it pending or down): a voter that still needs a snapshot counts
 * toward the quorum without being able to vote or append — promoting it early can leave a
 * region without a quorum when another voter fails.
 */
export function stepReady(step: OperatorStep, info: RegionInfo): boolean {
  if (step.kind !== 'promoteLearner') return true;
  return (
    !info.pendingPeers.some((p) => p.id === step.peer.id) &&
    !info.downPeers.some((d) => d.peer.id === step.peer.id)
  );
}

/**
 * Whether the step can still be carried out on the region as reported (e.g. a peer to
 * promote must still be there): an operator with an impossible step is cancelled.
 */
export function stepPossible(step: OperatorStep, info: RegionInfo): boolean {
  const peer = info.region.peers.find((p) => p.id === step.peer.id);
  switch (step.kind) {
    case 'addLearner':
      return !info.region.peers.some((p) => p.storeId === step.peer.storeId && p.id !== step.peer.id);
    case 'promoteLearner':
      return peer !== undefined;
    case 'removePeer':
      // Never ask a leader to remove itself: move leadership first.
      return info.leader?.id !== step.peer.id;
    case 'transferLeader':
      return peer !== undefined && peer.role === 'voter';
    case 'merge':
      return true;
  }
}

function peerProto(peer: PeerMeta, role: metapb.PeerRole): metapb.Peer {
  return { id: BigInt(peer.id), storeId: BigInt(peer.storeId), role };
}

/** The step as the operator the store's OperatorRunner understands. */
export function stepToProto(step: OperatorStep): pdpb.RegionHeartbeatResponse['operator'] {
  const change = (
    changeType: raftpb.ConfChangeType,
    role: metapb.PeerRole,
  ): pdpb.RegionHeartbeatResponse['operator'] => ({
    $case: 'changePeer',
    changePeer: {
      transition: raftpb.ConfChangeTransition.AUTO,
      changes: [{ changeType, peer: peerProto(step.peer, role) }],
    },
  });
  switch (step.kind) {
    case 'addLearner':
      return change(raftpb.ConfChangeType.ADD_LEARNER, metapb.PeerRole.LEARNER);
    case 'promoteLearner':
      return change(raftpb.ConfChangeType.ADD_VOTER, metapb.PeerRole.VOTER);
    case 'removePeer':
      return change(raftpb.ConfChangeType.REMOVE_NODE, metapb.PeerRole.VOTER);
    case 'transferLeader':
      return {
        $case: 'transferLeader',
        transferLeader: { peer: peerProto(step.peer, metapb.PeerRole.VOTER) },
      };
    case 'merge':
      return { $case: 'merge', merge: { target: regionToProto(step.target) } };
  }
}

export function describeStep(step: OperatorStep): string {
  if (step.kind === 'merge') return `merge into region ${step.target.id} (led by store ${step.peer.storeId})`;
  return `${step.kind} peer ${step.peer.id} on store ${step.peer.storeId}`;
}
