// raftpb mirrors the consensus core's data (raft/src/types.ts): every core enum string has
// exactly one wire value and back, and the wire messages carry the same fields as the core
// records. The enum tables are checked at run time; the field lists at type-check time
// (npm run typecheck), so a field added on one side only fails CI.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type * as core from '../../raft/src/types.js';
import { raftpb } from '../src/index.js';

const messageTypes: Record<core.MessageType, raftpb.MessageType> = {
  hup: raftpb.MessageType.HUP,
  beat: raftpb.MessageType.BEAT,
  prop: raftpb.MessageType.PROP,
  app: raftpb.MessageType.APP,
  appResp: raftpb.MessageType.APP_RESP,
  vote: raftpb.MessageType.VOTE,
  voteResp: raftpb.MessageType.VOTE_RESP,
  preVote: raftpb.MessageType.PRE_VOTE,
  preVoteResp: raftpb.MessageType.PRE_VOTE_RESP,
  snap: raftpb.MessageType.SNAP,
  heartbeat: raftpb.MessageType.HEARTBEAT,
  heartbeatResp: raftpb.MessageType.HEARTBEAT_RESP,
  unreachable: raftpb.MessageType.UNREACHABLE,
  snapStatus: raftpb.MessageType.SNAP_STATUS,
  checkQuorum: raftpb.MessageType.CHECK_QUORUM,
  transferLeader: raftpb.MessageType.TRANSFER_LEADER,
  timeoutNow: raftpb.MessageType.TIMEOUT_NOW,
  readIndex: raftpb.MessageType.READ_INDEX,
  readIndexResp: raftpb.MessageType.READ_INDEX_RESP,
};

const entryTypes: Record<core.EntryType, raftpb.EntryType> = {
  normal: raftpb.EntryType.NORMAL,
  confChange: raftpb.EntryType.CONF_CHANGE,
};

const confChangeTypes: Record<core.ConfChangeType, raftpb.ConfChangeType> = {
  addVoter: raftpb.ConfChangeType.ADD_VOTER,
  addLearner: raftpb.ConfChangeType.ADD_LEARNER,
  removeNode: raftpb.ConfChangeType.REMOVE_NODE,
};

const confChangeTransitions: Record<core.ConfChangeTransition, raftpb.ConfChangeTransition> = {
  auto: raftpb.ConfChangeTransition.AUTO,
  jointImplicit: raftpb.ConfChangeTransition.JOINT_IMPLICIT,
  jointExplicit: raftpb.ConfChangeTransition.JOINT_EXPLICIT,
};

const roles: Record<core.Role, raftpb.RaftRole> = {
  follower: raftpb.RaftRole.FOLLOWER,
  preCandidate: raftpb.RaftRole.PRE_CANDIDATE,
  candidate: raftpb.RaftRole.CANDIDATE,
  leader: raftpb.RaftRole.LEADER,
};

/** True only when A and B have exactly the same property names. */
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;

const sameFields: Record<string, true> = {
  Entry: true satisfies SameKeys<core.Entry, raftpb.Entry>,
  HardState: true satisfies SameKeys<core.HardState, raftpb.HardState>,
  ConfState: true satisfies SameKeys<core.ConfState, raftpb.ConfState>,
  SnapshotMetadata: true satisfies SameKeys<core.SnapshotMetadata, raftpb.SnapshotMetadata>,
  Snapshot: true satisfies SameKeys<core.Snapshot, raftpb.Snapshot>,
  ConfChangeSingle: true satisfies SameKeys<core.ConfChangeSingle, raftpb.ConfChangeSingle>,
  ConfChange: true satisfies SameKeys<core.ConfChange, raftpb.ConfChange>,
  Message: true satisfies SameKeys<core.Message, raftpb.Message>,
};

/** The wire values of a ts-proto enum that carry meaning (not UNRECOGNIZED, not an UNSPECIFIED zero). */
function meaningfulValues(enumObject: Record<string, string | number>): number[] {
  return Object.entries(enumObject)
    .filter(([name, value]) => typeof value === 'number' && value >= 0 && name !== 'UNSPECIFIED')
    .map(([, value]) => value as number)
    .sort((a, b) => a - b);
}

const mirrors: Array<{ name: string; table: Record<string, number>; wire: Record<string, string | number> }> =
  [
    { name: 'MessageType', table: messageTypes, wire: raftpb.MessageType },
    { name: 'EntryType', table: entryTypes, wire: raftpb.EntryType },
    { name: 'ConfChangeType', table: confChangeTypes, wire: raftpb.ConfChangeType },
    { name: 'ConfChangeTransition', table: confChangeTransitions, wire: raftpb.ConfChangeTransition },
    { name: 'Role (RaftRole)', table: roles, wire: raftpb.RaftRole },
  ];

describe('raftpb mirrors raft/src/types.ts', () => {
  for (const { name, table, wire } of mirrors) {
    it(`maps every core ${name} to a distinct wire value and leaves no wire value unmapped`, () => {
      const mapped = Object.values(table).sort((a, b) => a - b);
      assert.equal(new Set(mapped).size, mapped.length, `two core ${name} strings share a wire value`);
      assert.deepEqual(mapped, meaningfulValues(wire));
    });
  }

  it('keeps field-for-field parity of the core records (checked by the type checker)', () => {
    assert.deepEqual(Object.keys(sameFields).sort(), [
      'ConfChange',
      'ConfChangeSingle',
      'ConfState',
      'Entry',
      'HardState',
      'Message',
      'Snapshot',
      'SnapshotMetadata',
    ]);
  });
});
