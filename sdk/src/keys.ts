// Keys and values as bytes, with string conveniences: the SDK accepts a string (encoded as
// UTF-8), a Buffer or any Uint8Array wherever it takes a key or value, and hands back
// Buffers (which are Uint8Arrays, so `.toString()` gives the string back).

/** A key or value: bytes, or a string encoded as UTF-8. */
export type Bytes = Uint8Array | string;

/** The bytes of `input` as a Buffer, sharing memory with a Buffer or Uint8Array input. */
export function toBuffer(input: Bytes): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new TypeError(`expected a string, Buffer or Uint8Array, got ${typeof input}`);
}

/** Byte-wise order of keys; a prefix sorts first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** The smallest key greater than `key` (key + 0x00): where a forward scan continues. */
export function keySuccessor(key: Uint8Array): Buffer {
  const next = Buffer.alloc(key.length + 1);
  next.set(key, 0);
  return next;
}

/** Whether `key` lies in [start, end), where an empty end means unbounded. */
export function rangeContains(start: Uint8Array, end: Uint8Array, key: Uint8Array): boolean {
  return compareBytes(key, start) >= 0 && (end.length === 0 || compareBytes(key, end) < 0);
}

/** The smaller of two end keys, where empty means unbounded. */
export function minEnd(a: Uint8Array, b: Uint8Array): Buffer {
  if (a.length === 0) return Buffer.from(b);
  if (b.length === 0) return Buffer.from(a);
  return Buffer.from(compareBytes(a, b) <= 0 ? a : b);
}

/** The larger of two start keys. */
export function maxStart(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(compareBytes(a, b) >= 0 ? a : b);
}

/** Printable form of a key for error messages: UTF-8 when it is printable, hex otherwise (cut at 64 bytes). */
export function describeKey(key: Uint8Array): string {
  const cut = key.subarray(0, 64);
  const text = Buffer.from(cut).toString('utf8');
  const printable = /^[\x20-\x7e]*$/.test(text);
  const shown = printable ? JSON.stringify(text) : `0x${Buffer.from(cut).toString('hex')}`;
  return key.length > 64 ? `${shown}… (${key.length} bytes)` : shown;
}
