// The key layout of a store's single database. Local (store-internal) keys start with
// 0x01 and sort before every data key, which starts with 'z' (0x7a); a user key k is
// stored as 'z' + k, so user ranges map to contiguous engine ranges and region data can be
// scanned, snapshotted and size-estimated by range.
//
//   0x01 0x01                                    store identity (cluster id, store id)
//   0x01 0x02 <regionId u64> 0x01 <index u64>    Raft log entry of a region
//   0x01 0x02 <regionId u64> 0x02                Raft hard state (term, vote, commit)
//   0x01 0x02 <regionId u64> 0x03                apply state (applied index, truncated index/term)
//   0x01 0x03 <regionId u64>                     region local state (region meta + peer state)
//   0x01 0x04                                    prepared cluster bootstrap (first region id, until PD confirms)
//   'z' <user key>                               user data (value with TTL header)
import { concatBytes, prefixEnd, readU64, writeU64 } from './bytes.js';
import type { KeyRange } from './engine.js';

const LOCAL = 0x01;
const STORE_IDENT = 0x01;
const RAFT = 0x02;
const REGION_STATE = 0x03;
const PREPARED_BOOTSTRAP = 0x04;
const RAFT_LOG = 0x01;
const RAFT_HARD_STATE = 0x02;
const APPLY_STATE = 0x03;
export const DATA_PREFIX = 0x7a; // 'z'

export const storeIdentKey: Uint8Array = new Uint8Array([LOCAL, STORE_IDENT]);

/**
 * Written with the first region before the store asks PD to bootstrap the cluster with it,
 * deleted once PD answered: a store restarting with this key set finishes (or undoes) the
 * bootstrap instead of guessing whether its region is the cluster's first.
 */
export const preparedBootstrapKey: Uint8Array = new Uint8Array([LOCAL, PREPARED_BOOTSTRAP]);

function regionPrefixed(
  kind: number,
  regionId: number,
  suffixLength: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(2 + 8 + suffixLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = LOCAL;
  bytes[1] = kind;
  writeU64(view, 2, regionId);
  return { bytes, view };
}

export function raftLogKey(regionId: number, index: number): Uint8Array {
  const { bytes, view } = regionPrefixed(RAFT, regionId, 9);
  bytes[10] = RAFT_LOG;
  writeU64(view, 11, index);
  return bytes;
}

/** The index encoded in a raftLogKey. */
export function raftLogIndexOf(key: Uint8Array): number {
  if (key.length !== 19 || key[0] !== LOCAL || key[1] !== RAFT || key[10] !== RAFT_LOG) {
    throw new RangeError('not a raft log key');
  }
  return readU64(new DataView(key.buffer, key.byteOffset, key.byteLength), 11);
}

/** Raft log keys of a region for indexes in [lo, hi). */
export function raftLogRange(regionId: number, lo: number, hi: number): KeyRange {
  return { start: raftLogKey(regionId, lo), end: raftLogKey(regionId, hi) };
}

export function raftHardStateKey(regionId: number): Uint8Array {
  const { bytes } = regionPrefixed(RAFT, regionId, 1);
  bytes[10] = RAFT_HARD_STATE;
  return bytes;
}

export function applyStateKey(regionId: number): Uint8Array {
  const { bytes } = regionPrefixed(RAFT, regionId, 1);
  bytes[10] = APPLY_STATE;
  return bytes;
}

export function regionStateKey(regionId: number): Uint8Array {
  return regionPrefixed(REGION_STATE, regionId, 0).bytes;
}

/** Every region local state key (to load all regions at start). */
export const regionStateRange: KeyRange = {
  start: new Uint8Array([LOCAL, REGION_STATE]),
  end: new Uint8Array([LOCAL, REGION_STATE + 1]),
};

export function dataKey(userKey: Uint8Array): Uint8Array {
  return concatBytes(new Uint8Array([DATA_PREFIX]), userKey);
}

export function userKeyOf(dataKeyBytes: Uint8Array): Uint8Array {
  if (dataKeyBytes[0] !== DATA_PREFIX) throw new RangeError('not a data key');
  return dataKeyBytes.subarray(1);
}

/** The engine range holding the user keys [startKey, endKey); an empty endKey means unbounded. */
export function dataRange(startKey: Uint8Array, endKey: Uint8Array): KeyRange {
  return {
    start: dataKey(startKey),
    end: endKey.length === 0 ? prefixEnd(new Uint8Array([DATA_PREFIX])) : dataKey(endKey),
  };
}
