// Quorum arithmetic: the index a majority has reached and the outcome of a vote, for one
// voter set and for a joint configuration (C_old,new), which needs a majority of BOTH.
import type { NodeId } from './types.js';

export type VoteResult = 'pending' | 'lost' | 'won';
export type MajorityConfig = ReadonlySet<NodeId>;
/** [incoming, outgoing]; outgoing is empty when not in joint consensus. */
export type JointConfig = readonly [MajorityConfig, MajorityConfig];

/**
 * The largest index that a majority of `voters` has reached, given each voter's acked
 * index (undefined counts as 0). An empty config imposes no limit (Infinity), so that a
 * non-joint JointConfig is decided by its incoming half alone.
 */
export function majorityCommittedIndex(
  voters: MajorityConfig,
  acked: (id: NodeId) => number | undefined,
): number {
  if (voters.size === 0) return Infinity;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => b - a);
  return indexes[Math.floor(voters.size / 2)] as number;
}

export function majorityVoteResult(voters: MajorityConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

export function jointCommittedIndex(config: JointConfig, acked: (id: NodeId) => number | undefined): number {
  return Math.min(majorityCommittedIndex(config[0], acked), majorityCommittedIndex(config[1], acked));
}

export function jointVoteResult(config: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const incoming = majorityVoteResult(config[0], votes);
  const outgoing = majorityVoteResult(config[1], votes);
  if (incoming === outgoing) return incoming;
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  return 'pending';
}
