// Public surface of the store-to-store Raft transport. Everything else in this directory
// is internal.
export { RaftTransport, PEER_STORES_MAX } from './raft-transport.js';
export type { RaftTransportOptions, UnreachableCause } from './raft-transport.js';
export { createRaftServiceHandlers } from './raft-service.js';
export type { BatchDelivery, BatchStreamErrorCode, RaftServiceOptions } from './raft-service.js';
export { SnapshotReceiver, PARTIAL_FILE_SUFFIX } from './snapshot-receiver.js';
export type { ReceivedSnapshot, SnapshotReceiverOptions } from './snapshot-receiver.js';
export type { SnapshotSent, SnapshotSource } from './snapshot-sender.js';
export { BATCH_LIMITS_DEFAULT, FRAME_RECEIVE_SIZE_BYTES_MAX, RAFT_SERVER_OPTIONS } from './batch-limits.js';
export type { BatchLimits } from './batch-limits.js';
export { SNAPSHOT_RECEIVE_LIMITS_DEFAULT, SNAPSHOT_SEND_LIMITS_DEFAULT } from './snapshot-limits.js';
export type { SnapshotReceiveLimits, SnapshotSendLimits } from './snapshot-limits.js';
export type { ConnectionState, ConnectionStats } from './store-connection.js';
export { BACKOFF_MS_MAX_DEFAULT, BACKOFF_MS_MIN_DEFAULT } from './backoff.js';
export { systemClock, systemJitter } from './clock.js';
export type { Clock, JitterSource, TimerHandle } from './clock.js';
export { crc32c } from '../checksum/crc32c.js';
export {
  ALL_MESSAGE_TYPES,
  COALESCED_HEARTBEAT_CONTEXT_BYTES_MAX,
  coalescedHeartbeatOf,
  decodeCoalescedHeartbeat,
  decodeConfState,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeRegionRaftMessage,
  decodeSnapshot,
  encodeCoalescedHeartbeat,
  encodeConfState,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeRegionRaftMessage,
  encodeSnapshot,
  isLocalOnlyMessageType,
} from './raft-message-codec.js';
export type {
  CoalescedHeartbeatRecord,
  PeerRef,
  PeerRole,
  RegionEpoch,
  RegionRaftMessage,
} from './raft-message-codec.js';
export {
  SNAPSHOT_ERROR_CODES,
  SnapshotTransferError,
  TransportDecodeError,
  TransportEncodeError,
} from './transport-errors.js';
export type { SnapshotErrorCode } from './transport-errors.js';
export { ERROR_CODE_METADATA_KEY } from './grpc-status.js';
