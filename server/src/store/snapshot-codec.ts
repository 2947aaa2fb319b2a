// The wire forms of a region snapshot. The Raft `Snapshot.data` the core carries is a small
// descriptor (which region, at which index and term, its region meta, and the size, key
// count and CRC-32C of the bulk data); the bulk streams separately as length-prefixed
// records, one per user key:
//
//   descriptor: "FSNP" u8 version | regionId u64 | index u64 | term u64 | dataSizeBytes u64
//               | keyCount u64 | dataCrc32c u32 | stateLength u32 | RegionLocalState
//               | descriptorCrc32c u32 (over everything before it)
//   record:     keyLength u32 | user key | valueLength u32 | stored value (TTL header included)
//
// A corrupt or foreign input is reported as SnapshotCorruptError, never misread.
import type { KeyValue } from '../storage/engine.js';
import { readU64, writeU64 } from '../storage/bytes.js';
import { crc32c } from '../transport/index.js';
import type { RegionMeta } from './region-meta.js';
import { decodeRegionLocalState, encodeRegionLocalState } from './region-meta.js';

const MAGIC = [0x46, 0x53, 0x4e, 0x50]; // "FSNP"
const FORMAT_VERSION = 1;
const HEADER_BYTES = 4 + 1 + 8 * 5 + 4 + 4;

/** Largest user key a record may hold (keys are far smaller; kv-limits bounds them). */
export const SNAPSHOT_KEY_BYTES_MAX = 64 * 1024;
/** Largest stored value a record may hold (a value fits in one Raft entry). */
export const SNAPSHOT_VALUE_BYTES_MAX = 16 * 1024 * 1024;
/** Largest descriptor accepted (a region meta with a handful of peers is ~100 bytes). */
export const SNAPSHOT_DESCRIPTOR_BYTES_MAX = 64 * 1024;

export class SnapshotCorruptError extends Error {
  readonly code = 'SNAPSHOT_CORRUPT';
  readonly retryable = true;
  constructor(detail: string) {
    super(`corrupt snapshot: ${detail}`);
    this.name = 'SnapshotCorruptError';
  }
}

export interface SnapshotDescriptor {
  readonly regionId: number;
  readonly index: number;
  readonly term: number;
  readonly dataSizeBytes: number;
  readonly keyCount: number;
  readonly dataCrc32c: number;
  /** The region as of `index` (range, epoch, peers). */
  readonly region: RegionMeta;
}

export function encodeDescriptor(d: SnapshotDescriptor): Uint8Array {
  if (d.region.id !== d.regionId) throw new RangeError(`descriptor region ${d.region.id} != ${d.regionId}`);
  if (d.index < 1 || d.term < 1) throw new RangeError(`descriptor at index ${d.index} term ${d.term}`);
  const state = encodeRegionLocalState(d.region, 'normal');
  const out = new Uint8Array(HEADER_BYTES + state.length + 4);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  writeU64(view, 5, d.regionId);
  writeU64(view, 13, d.index);
  writeU64(view, 21, d.term);
  writeU64(view, 29, d.dataSizeBytes);
  writeU64(view, 37, d.keyCount);
  view.setUint32(45, d.dataCrc32c >>> 0);
  view.setUint32(49, state.length);
  out.set(state, HEADER_BYTES);
  view.setUint32(HEADER_BYTES + state.length, crc32c(out.subarray(0, HEADER_BYTES + state.length)));
  return out;
}

export function decodeDescriptor(bytes: Uint8Array): SnapshotDescriptor {
  if (bytes.length < HEADER_BYTES + 4 || bytes.length > SNAPSHOT_DESCRIPTOR_BYTES_MAX)
    throw new SnapshotCorruptError(`descriptor of ${bytes.length} bytes`);
  if (MAGIC.some((b, i) => bytes[i] !== b)) throw new SnapshotCorruptError('descriptor magic');
  if (bytes[4] !== FORMAT_VERSION) throw new SnapshotCorruptError(`descriptor version ${bytes[4]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stateLength = view.getUint32(49);
  if (HEADER_BYTES + stateLength + 4 !== bytes.length)
    throw new SnapshotCorruptError(`descriptor state length ${stateLength}`);
  const body = bytes.subarray(0, HEADER_BYTES + stateLength);
  if (view.getUint32(HEADER_BYTES + stateLength) !== crc32c(body))
    throw new SnapshotCorruptError('descriptor checksum mismatch');
  let region: RegionMeta;
  try {
    region = decodeRegionLocalState(bytes.subarray(HEADER_BYTES, HEADER_BYTES + stateLength)).region;
  } catch (err) {
    throw new SnapshotCorruptError(`descriptor region state: ${String(err)}`);
  }
  const d: SnapshotDescriptor = {
    regionId: readU64(view, 5),
    index: readU64(view, 13),
    term: readU64(view, 21),
    dataSizeBytes: readU64(view, 29),
    keyCount: readU64(view, 37),
    dataCrc32c: view.getUint32(45),
    region,
  };
  if (d.region.id !== d.regionId) throw new SnapshotCorruptError(`region ${d.region.id} != ${d.regionId}`);
  if (d.index < 1 || d.term < 1) throw new SnapshotCorruptError(`index ${d.index} term ${d.term}`);
  return d;
}

/** One page of records (keys are user keys: the 'z' prefix of data keys is stripped). */
export function encodeRecords(page: readonly KeyValue[]): Uint8Array {
  let size = 0;
  for (const { key, value } of page) size += 8 + key.length + value.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const { key, value } of page) {
    if (key.length === 0 || key.length > SNAPSHOT_KEY_BYTES_MAX || value.length > SNAPSHOT_VALUE_BYTES_MAX)
      throw new RangeError(`snapshot record with a ${key.length}-byte key, ${value.length}-byte value`);
    view.setUint32(at, key.length);
    out.set(key, at + 4);
    at += 4 + key.length;
    view.setUint32(at, value.length);
    out.set(value, at + 4);
    at += 4 + value.length;
  }
  if (at !== size) throw new Error(`encoded ${at} record bytes, expected ${size}`);
  return out;
}

/**
 * Cuts a byte stream (arbitrary chunk boundaries) back into records, checking the totals
 * against the descriptor. Buffers at most one record plus one chunk.
 */
export class RecordDecoder {
  /** Bytes of an incomplete record, kept as received until enough arrived (no quadratic re-copying). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes the incomplete record needs before parsing can progress. */
  private neededBytes = 4;
  private crc = 0;
  private sizeBytes = 0;
  private keyCount = 0;

  constructor(private readonly descriptor: SnapshotDescriptor) {}

  /** The complete records in `chunk` (plus what was left over from earlier chunks). */
  push(chunk: Uint8Array): KeyValue[] {
    this.sizeBytes += chunk.length;
    if (this.sizeBytes > this.descriptor.dataSizeBytes)
      throw new SnapshotCorruptError(`more than the ${this.descriptor.dataSizeBytes} bytes announced`);
    this.crc = crc32c(chunk, this.crc);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.neededBytes) return [];
    const joined = this.pending.length === 1 ? chunk : Buffer.concat(this.pending);
    // A plain Uint8Array view (chunks may be Buffers), so records come out as plain arrays.
    const bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
    const { records, consumedBytes } = this.parse(bytes);
    const rest = bytes.slice(consumedBytes);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.keyCount += records.length;
    return records;
  }

  private parse(bytes: Uint8Array): { records: KeyValue[]; consumedBytes: number } {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const records: KeyValue[] = [];
    let at = 0;
    for (;;) {
      this.neededBytes = 4;
      if (bytes.length - at < 4) break;
      const keyLength = view.getUint32(at);
      if (keyLength === 0 || keyLength > SNAPSHOT_KEY_BYTES_MAX)
        throw new SnapshotCorruptError(`record key length ${keyLength}`);
      this.neededBytes = 8 + keyLength;
      if (bytes.length - at < this.neededBytes) break;
      const valueLength = view.getUint32(at + 4 + keyLength);
      if (valueLength > SNAPSHOT_VALUE_BYTES_MAX)
        throw new SnapshotCorruptError(`record value length ${valueLength}`);
      this.neededBytes = 8 + keyLength + valueLength;
      if (bytes.length - at < this.neededBytes) break;
      const end = at + this.neededBytes;
      records.push({
        key: bytes.slice(at + 4, at + 4 + keyLength),
        value: bytes.slice(at + 8 + keyLength, end),
      });
      at = end;
    }
    return { records, consumedBytes: at };
  }

  /** Checks that the stream ended on a record boundary with the announced size, count and checksum. */
  finish(): void {
    const d = this.descriptor;
    if (this.pendingBytes > 0) throw new SnapshotCorruptError(`${this.pendingBytes} trailing bytes`);
    if (this.sizeBytes !== d.dataSizeBytes)
      throw new SnapshotCorruptError(`${this.sizeBytes} data bytes, expected ${d.dataSizeBytes}`);
    if (this.keyCount !== d.keyCount)
      throw new SnapshotCorruptError(`${this.keyCount} keys, expected ${d.keyCount}`);
    if (this.crc !== d.dataCrc32c) throw new SnapshotCorruptError('data checksum mismatch');
  }
}
