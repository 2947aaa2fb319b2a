// How a user value is stored: a one-byte header, an optional absolute expiry, the bytes.
// The expiry is decided once, by the leader at proposal time, and travels in the log, so
// every replica stores the same deadline; whether a key has expired is judged by the
// reading node's clock at read time.
import { readU64, writeU64 } from '../storage/bytes.js';

const FLAG_HAS_EXPIRY = 0x01;
const KNOWN_FLAGS = FLAG_HAS_EXPIRY;

export interface StoredValue {
  readonly value: Uint8Array;
  /** Absolute expiry in Unix milliseconds; 0 = never. */
  readonly expireAtUnixMs: number;
}

export function encodeUserValue(value: Uint8Array, expireAtUnixMs: number): Uint8Array {
  if (expireAtUnixMs === 0) {
    const out = new Uint8Array(1 + value.length);
    out.set(value, 1);
    return out;
  }
  const out = new Uint8Array(9 + value.length);
  out[0] = FLAG_HAS_EXPIRY;
  writeU64(new DataView(out.buffer), 1, expireAtUnixMs);
  out.set(value, 9);
  return out;
}

export function decodeUserValue(bytes: Uint8Array): StoredValue {
  const flags = bytes[0];
  if (flags === undefined || (flags & ~KNOWN_FLAGS) !== 0) {
    throw new RangeError(`stored value has an unknown header ${flags}`);
  }
  if ((flags & FLAG_HAS_EXPIRY) === 0) return { value: bytes.subarray(1), expireAtUnixMs: 0 };
  if (bytes.length < 9) throw new RangeError('stored value with expiry is truncated');
  const expireAtUnixMs = readU64(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 1);
  return { value: bytes.subarray(9), expireAtUnixMs };
}

/** The live value, or undefined when absent or expired at `nowUnixMs`. */
export function liveValue(bytes: Uint8Array | undefined, nowUnixMs: number): Uint8Array | undefined {
  if (bytes === undefined) return undefined;
  const stored = decodeUserValue(bytes);
  if (stored.expireAtUnixMs !== 0 && stored.expireAtUnixMs <= nowUnixMs) return undefined;
  return stored.value;
}
