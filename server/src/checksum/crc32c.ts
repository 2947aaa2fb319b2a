// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of snapshot chunks and of Raft log records.
// Node 20 has no built-in crc32c; this is the slicing-by-8 table method: eight 256-entry
// tables let the loop consume eight bytes per step instead of one.

const POLYNOMIAL_REFLECTED = 0x82f63b78;
const TABLE_COUNT = 8;
const TABLE_SIZE = 256;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const first = new Uint32Array(TABLE_SIZE);
  for (let n = 0; n < TABLE_SIZE; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL_REFLECTED : c >>> 1;
    first[n] = c >>> 0;
  }
  tables.push(first);
  for (let t = 1; t < TABLE_COUNT; t++) {
    const previous = tables[t - 1] as Uint32Array;
    const table = new Uint32Array(TABLE_SIZE);
    for (let n = 0; n < TABLE_SIZE; n++) {
      const c = previous[n] as number;
      table[n] = ((c >>> 8) ^ (first[c & 0xff] as number)) >>> 0;
    }
    tables.push(table);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/**
 * CRC-32C of `data`, as an unsigned 32-bit number. Pass the result of a previous call as
 * `previousCrc` to checksum data that arrives in pieces: crc32c(b, crc32c(a)) equals crc32c(a ++ b).
 */
export function crc32c(data: Uint8Array, previousCrc = 0): number {
  if (!Number.isInteger(previousCrc) || previousCrc < 0 || previousCrc > 0xffffffff) {
    throw new RangeError(`crc32c: previousCrc must be an unsigned 32-bit integer, got ${previousCrc}`);
  }
  let crc = ~previousCrc >>> 0;
  let i = 0;
  const fastEnd = data.length - (data.length % 8);
  // The table lookups below index 0..255 by construction (& 0xff, >>> 24), so `!` is safe.
  while (i < fastEnd) {
    const lo = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    const hi = (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0;
    crc =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[hi & 0xff]! ^
      T2[(hi >>> 8) & 0xff]! ^
      T1[(hi >>> 16) & 0xff]! ^
      T0[hi >>> 24]!;
    i += 8;
  }
  while (i < data.length) {
    crc = (crc >>> 8) ^ T0[(crc ^ data[i]!) & 0xff]!;
    i += 1;
  }
  return ~crc >>> 0;
}
