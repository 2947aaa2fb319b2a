// Installing a snapshot received from a region's leader, in two steps:
//   1. outside the store loop (readSnapshotData): check the header against the local peer
//      (region, peer, epoch) and read the whole verified file into records (size, key
//      count and CRC-32C from the descriptor; every key inside the region's range);
//   2. in the region's next round, before it steps (installPending): if the Raft core will
//      take the snapshot (same rules as raft's restore: not older than its commit, not a
//      log it already has, a config it belongs to), put into the round's ONE write batch
//      the deletion of every data key of the range, the snapshot's keys and the region
//      local state ('normal'). Then the 'snap' message is stepped first: the core restores,
//      and its Ready, persisted into the same batch, carries the snapshot (RegionPeer.persist
//      checks it is the staged one and resets the log: PeerStorage.installSnapshot) and the
//      hard state with commit = the snapshot index. The log is reset only after the step:
//      before it, the core would find the snapshot's index and term in its own log and
//      merely fast-forward its commit.
// Crash safety comes from the single atomic batch: a restart sees the old state or the
// whole snapshot, never half of one. The price is that a snapshot is held in memory and
// written as one LevelDB batch: bounded by SNAPSHOT_INSTALL_SIZE_BYTES_MAX, well above the
// 64 MiB region size that splits (split-checker.ts) hold regions to. A snapshot for an
// uninitialized peer (created by a message, no range yet) initializes it: the region local
// state it writes gives the peer its range and membership. Up to receivesMax
// (4) verified snapshots may wait in memory at once.
import type { Message, SnapshotMetadata } from '@flotilla/raft';
import { StorageError } from '@flotilla/raft';
import type { KeyValue } from '../storage/engine.js';
import { dataKey, dataRange, regionStateKey } from '../storage/keys.js';
import type { ApplyWriter } from './apply-writer.js';
import type { RegionPeer } from './region-peer.js';
import { encodeRegionLocalState, regionContainsKey } from './region-meta.js';
import type { SnapshotDescriptor } from './snapshot-codec.js';
import { RecordDecoder, decodeDescriptor } from './snapshot-codec.js';
import type { RaftEnvelope } from './store.js';

/** Largest snapshot installed (held in memory and written as one batch). */
export const SNAPSHOT_INSTALL_SIZE_BYTES_MAX = 256 * 1024 * 1024;

export class SnapshotRejectedError extends Error {
  readonly code = 'SNAPSHOT_REJECTED';
  readonly retryable = false;
  constructor(regionId: number, detail: string) {
    super(`snapshot of region ${regionId} rejected: ${detail}`);
    this.name = 'SnapshotRejectedError';
  }
}

/** A verified snapshot waiting for its region's next round. */
export interface PendingInstall {
  readonly envelope: RaftEnvelope;
  readonly descriptor: SnapshotDescriptor;
  /** User keys and stored values, in key order. */
  readonly records: readonly KeyValue[];
  /** Called once the round that handled it is durable (or with the error that stopped it). */
  readonly done: (error?: Error) => void;
}

/** Step 1a: the descriptor of a 'snap' envelope, checked against the peer it is for. */
export function checkSnapshotHeader(
  envelope: RaftEnvelope,
  peer: RegionPeer | undefined,
): SnapshotDescriptor {
  const { regionId, message } = envelope;
  const reject = (detail: string): never => {
    throw new SnapshotRejectedError(regionId, detail);
  };
  if (message.type !== 'snap' || message.snapshot === null) return reject(`a '${message.type}' message`);
  // The store creates an uninitialized peer for an unknown region first when it may
  // (peer-creation.ts); none means the snapshot must not create one (overlap, tombstone).
  if (peer === undefined) return reject('no peer of the region on this store, and none may be created');
  if (envelope.toPeer.id !== peer.peerId)
    return reject(`for peer ${envelope.toPeer.id}, ours is ${peer.peerId}`);
  const d = decodeDescriptor(message.snapshot.data);
  const meta = message.snapshot.metadata;
  if (d.regionId !== regionId || d.index !== meta.index || d.term !== meta.term)
    return reject(`descriptor (region ${d.regionId}, ${d.index}/${d.term}) does not match the message`);
  const mine = peer.region.epoch;
  if (d.region.epoch.confVer < mine.confVer || d.region.epoch.version < mine.version)
    return reject(`epoch ${JSON.stringify(d.region.epoch)} is older than ours ${JSON.stringify(mine)}`);
  if (d.dataSizeBytes > SNAPSHOT_INSTALL_SIZE_BYTES_MAX)
    return reject(`${d.dataSizeBytes} bytes, more than ${SNAPSHOT_INSTALL_SIZE_BYTES_MAX}`);
  return d;
}

/** Step 1b: the verified records of the data stream. */
export async function readSnapshotData(
  d: SnapshotDescriptor,
  data: AsyncIterable<Uint8Array>,
): Promise<KeyValue[]> {
  const decoder = new RecordDecoder(d);
  const records: KeyValue[] = [];
  for await (const chunk of data) {
    for (const record of decoder.push(chunk)) {
      if (!regionContainsKey(d.region, record.key))
        throw new SnapshotRejectedError(d.regionId, 'a key outside the region range');
      records.push(record);
    }
  }
  decoder.finish();
  return records;
}

/**
 * Step 2, inside a round, before the peer steps: installs the snapshot into the round's
 * batch if the core will restore it; returns whether it did. Either way the caller then
 * steps the message (a refused one is answered by the core with its commit index).
 */
export async function installPending(
  peer: RegionPeer,
  pending: PendingInstall,
  writer: ApplyWriter,
): Promise<boolean> {
  const { descriptor: d } = pending;
  const metadata = (pending.envelope.message.snapshot as { metadata: SnapshotMetadata }).metadata;
  if (!coreWillRestore(peer, pending.envelope.message, metadata)) return false;
  if (pending.records.length !== d.keyCount)
    throw new Error(`region ${d.regionId}: installing ${pending.records.length} of ${d.keyCount} keys`);
  await writer.deleteRange(dataRange(d.region.startKey, d.region.endKey));
  for (const { key, value } of pending.records) writer.put(dataKey(key), value);
  writer.batch.put(regionStateKey(d.regionId), encodeRegionLocalState(d.region, 'normal'));
  peer.acceptStagedSnapshot(d.region, metadata);
  return true;
}

/** The conditions under which raft's restore() replaces the log (raft-replication.ts). */
function coreWillRestore(peer: RegionPeer, m: Message, metadata: SnapshotMetadata): boolean {
  const status = peer.node.status();
  if (m.term < status.term) return false; // dropped as stale
  if (status.role === 'leader') return false; // cannot be: one leader per term
  if (metadata.index <= status.commit) return false;
  const cs = metadata.confState;
  if (![...cs.voters, ...cs.learners, ...cs.votersOutgoing].includes(peer.peerId)) return false;
  try {
    if (peer.storage.term(metadata.index) === metadata.term) return false; // log already has it
  } catch (err) {
    if (!(err instanceof StorageError)) throw err;
  }
  return true;
}
