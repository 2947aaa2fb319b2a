// A region membership change as PD and the Admin API describe it (peers with their stores:
// raftpb.PeerChange) turned into the Raft core's ConfChange. The peers travel in the
// ConfChange's context as a ChangePeerCommand, so every replica learns, when it applies
// the entry, which store a newly added peer lives on.
import type { ConfChange, ConfChangeSingle, ConfChangeTransition } from '@flotilla/raft';
import { raftpb } from '@flotilla/proto';
import { peerFromProto } from './region-meta.js';

export class PeerChangeError extends Error {
  readonly code = 'INVALID_PEER_CHANGE';
  constructor(message: string) {
    super(message);
    this.name = 'PeerChangeError';
  }
}

const TRANSITIONS: Record<number, ConfChangeTransition> = {
  [raftpb.ConfChangeTransition.AUTO]: 'auto',
  [raftpb.ConfChangeTransition.JOINT_IMPLICIT]: 'jointImplicit',
  [raftpb.ConfChangeTransition.JOINT_EXPLICIT]: 'jointExplicit',
};

const CHANGE_TYPES: Record<number, ConfChangeSingle['type']> = {
  [raftpb.ConfChangeType.ADD_VOTER]: 'addVoter',
  [raftpb.ConfChangeType.ADD_LEARNER]: 'addLearner',
  [raftpb.ConfChangeType.REMOVE_NODE]: 'removeNode',
};

/** Validates the changes (throws PeerChangeError naming the bad field) and builds the ConfChange. */
export function confChangeOf(
  transitionProto: raftpb.ConfChangeTransition,
  peerChanges: readonly raftpb.PeerChange[],
): ConfChange {
  const transition = TRANSITIONS[transitionProto];
  if (transition === undefined) throw new PeerChangeError(`unknown transition ${transitionProto}`);
  if (peerChanges.length === 0) throw new PeerChangeError('no changes given');
  const changes = peerChanges.map((c, i): ConfChangeSingle => {
    const type = CHANGE_TYPES[c.changeType];
    if (type === undefined)
      throw new PeerChangeError(`changes[${i}].changeType ${c.changeType} is not a change`);
    if (c.peer === undefined) throw new PeerChangeError(`changes[${i}].peer is missing`);
    let peer;
    try {
      peer = peerFromProto(c.peer, `changes[${i}].peer`);
    } catch (err) {
      throw new PeerChangeError(err instanceof Error ? err.message : String(err));
    }
    if (peer.id === 0 || peer.storeId === 0)
      throw new PeerChangeError(`changes[${i}].peer needs a peer id and a store id`);
    return { type, nodeId: peer.id };
  });
  const context = raftpb.RaftCommand.encode({
    command: { $case: 'changePeer', changePeer: { changes: [...peerChanges] } },
  }).finish();
  return { transition, changes, context };
}
