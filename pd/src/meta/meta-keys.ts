// Where PD keeps its state inside the embedded meta store: a handful of fixed keys (cluster
// id, bootstrap record, id high-water mark) and one key per store and per region, named by
// the id in 8 big-endian bytes so a prefix scan lists them in id order. Values are numbers
// as 8 big-endian bytes, or the metapb/pdpb message encoded.
import {
  compareBytes,
  concatBytes,
  prefixEnd,
  readU64,
  u64Bytes,
} from '../../../server/src/storage/bytes.js';
import type { KeyRange } from '../../../server/src/storage/engine.js';

const encoder = new TextEncoder();

/** Every PD key starts with this, so the meta store could hold other data beside it. */
const PD_PREFIX = encoder.encode('/pd/');

export const clusterIdKey: Uint8Array = concatBytes(PD_PREFIX, encoder.encode('cluster_id'));
/** Holds the BootstrapRequest that won; its presence means "bootstrapped". */
export const bootstrapKey: Uint8Array = concatBytes(PD_PREFIX, encoder.encode('bootstrap'));
/** The highest id reserved by any leader so far; ids up to it must never be handed out again. */
export const allocIdKey: Uint8Array = concatBytes(PD_PREFIX, encoder.encode('alloc_id'));

const STORE_PREFIX = concatBytes(PD_PREFIX, encoder.encode('store/'));
const REGION_PREFIX = concatBytes(PD_PREFIX, encoder.encode('region/'));

export class MetaKeyError extends Error {
  readonly code = 'META_KEY';
}

export function storeKey(storeId: number): Uint8Array {
  checkId(storeId, 'store');
  return concatBytes(STORE_PREFIX, u64Bytes(storeId));
}

export function regionKey(regionId: number): Uint8Array {
  checkId(regionId, 'region');
  return concatBytes(REGION_PREFIX, u64Bytes(regionId));
}

export const storeKeyRange: KeyRange = prefixRange(STORE_PREFIX);
export const regionKeyRange: KeyRange = prefixRange(REGION_PREFIX);

/** The store id a store key names. */
export function storeIdOfKey(key: Uint8Array): number {
  return idOfKey(key, STORE_PREFIX, 'store');
}

/** The region id a region key names. */
export function regionIdOfKey(key: Uint8Array): number {
  return idOfKey(key, REGION_PREFIX, 'region');
}

export function encodeU64Value(value: number): Uint8Array {
  return u64Bytes(value);
}

export function decodeU64Value(bytes: Uint8Array, what: string): number {
  if (bytes.length !== 8) throw new MetaKeyError(`${what}: expected 8 bytes, found ${bytes.length}`);
  return readU64(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}

function idOfKey(key: Uint8Array, prefix: Uint8Array, what: string): number {
  const head = key.subarray(0, prefix.length);
  if (key.length !== prefix.length + 8 || compareBytes(head, prefix) !== 0) {
    throw new MetaKeyError(`not a ${what} key: ${Buffer.from(key).toString('hex')}`);
  }
  const id = decodeU64Value(key.subarray(prefix.length), `${what} key`);
  checkId(id, what);
  return id;
}

function checkId(id: number, what: string): void {
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new MetaKeyError(`${what} id must be a positive safe integer, got ${id}`);
}

function prefixRange(prefix: Uint8Array): KeyRange {
  const end = prefixEnd(prefix);
  if (end === null) throw new MetaKeyError('a PD key prefix cannot be all 0xff');
  return { start: prefix, end };
}
