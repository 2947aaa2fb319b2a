// The data the Raft core exchanges with its caller: log entries, messages, persistent
// state, snapshots, configuration and the Ready batch. Terms and indexes are plain
// numbers checked to be safe integers; ids are branded so a term cannot be passed
// where a node id is expected.

/** A Raft peer id, unique within one group (in Flotilla: the metapb Peer id). 0 means none. */
export type NodeId = number & { readonly __brand?: 'NodeId' };

/** Marks "no node" (no leader known, no vote cast). */
export const NONE: NodeId = 0;

export type EntryType = 'normal' | 'confChange';

/** A log entry. `data` is opaque to the core for 'normal' entries; for 'confChange' it is an encoded ConfChange (see conf-change-codec.ts). An empty normal entry is the leader's no-op. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** State that must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, or NONE. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** Volatile state, reported when it changes. */
export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: Role;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** The membership of a group. During joint consensus `votersOutgoing` is non-empty. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** The old voter set while in a joint configuration (C_old); empty otherwise. */
  readonly votersOutgoing: readonly NodeId[];
  /** Voters of C_old that become learners when the joint configuration is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint configuration automatically once it is committed. */
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A point-in-time image of the state machine. `data` is opaque to the core (Flotilla's store puts a descriptor here and streams the bulk separately). */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * How a configuration change is carried out.
 * - 'auto': a single voter change uses the simple protocol; anything else enters joint consensus and leaves it automatically.
 * - 'jointImplicit': always joint, left automatically once committed.
 * - 'jointExplicit': always joint; the caller proposes an empty ConfChange to leave.
 */
export type ConfChangeTransition = 'auto' | 'jointImplicit' | 'jointExplicit';

/** A membership change (several single changes applied at once, through joint consensus when needed). An empty `changes` list leaves a joint configuration. */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  /** Opaque to the core; handed back with the committed entry. */
  readonly context: Uint8Array;
}

export type MessageType =
  /** Local: start an election (the election timer fired, or campaign() was called). */
  | 'hup'
  /** Local: the leader's heartbeat timer fired. */
  | 'beat'
  /** Local: a proposal of entries. */
  | 'prop'
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap'
  | 'heartbeat'
  | 'heartbeatResp'
  /** Local: the transport could not reach `from`. */
  | 'unreachable'
  /** Local: the outcome of sending a snapshot to `from` (`reject` = failed). */
  | 'snapStatus'
  /** Local: check that the leader still has a quorum. */
  | 'checkQuorum'
  | 'transferLeader'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp';

/**
 * One Raft message. A flat record (as in etcd) so the transport can encode every kind
 * the same way; fields a kind does not use are zero/empty.
 */
export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  /** The sender's term; 0 for requests forwarded to the leader (prop, readIndex, transferLeader). */
  readonly term: number;
  /** app: term of the entry before `entries`; appResp reject: term at the hint index; vote/preVote: candidate's last log term. */
  readonly logTerm: number;
  /**
   * app: index of the entry before `entries`; appResp: last index matched or rejected;
   * readIndex: 1 asks for a lease read (0: safe); readIndexResp: the read index;
   * transferLeader: the transferee's id; timeoutNow (with logTerm): the leader's last entry.
   */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly snapshot: Snapshot | null;
  /**
   * readIndex / readIndexResp: the caller's request context. heartbeat / heartbeatResp: the
   * leader's read round and send tick, echoed back (read batching, lease). vote: marks a
   * campaign started by a leader transfer.
   */
  readonly context: Uint8Array;
}

/** A ReadIndex result: once the state machine has applied `index`, the read with `requestCtx` may be served. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Uint8Array;
}

/**
 * Everything the caller must do in one round, in this order:
 * 1. persist `hardState` (if set), append `entries`, install `snapshot` (if set) — durably
 *    (fsync) when `mustSync` is true;
 * 2. only then send `messages`;
 * 3. apply `committedEntries` (may be done asynchronously; report with reportApplied);
 * 4. serve `readStates` once applied index >= their index;
 * 5. call `advance()`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** True when hard state or entries changed in a way that must reach stable storage before sending. */
  readonly mustSync: boolean;
}
