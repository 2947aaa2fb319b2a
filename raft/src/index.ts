// The public surface of @flotilla/raft. Everything else in raft/src is internal.
export { RawNode } from './raw-node.js';
export type { RaftBasicStatus, RaftStatus, PeerProgressStatus } from './raw-node.js';
export { MemoryStorage } from './memory-storage.js';
export { SeededRandom } from './seeded-random.js';
export { encodeConfChange, decodeConfChange } from './conf-change-codec.js';
export { validateConfig, CONFIG_DEFAULTS } from './config.js';
export type { RaftConfig, RandomSource, ResolvedRaftConfig } from './config.js';
export { StorageError } from './storage.js';
export type { Storage, StorageErrorKind, InitialState } from './storage.js';
export { RaftConfigError, RaftInvariantError, ConfChangeDecodeError } from './errors.js';
export type { ProposeResult, ProposalError } from './proposal.js';
export type { ProgressState } from './progress.js';
export { NONE } from './types.js';
export type {
  NodeId,
  Entry,
  EntryType,
  HardState,
  SoftState,
  Role,
  ConfState,
  SnapshotMetadata,
  Snapshot,
  ConfChangeType,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChange,
  MessageType,
  Message,
  ReadState,
  Ready,
} from './types.js';
