// CRC-32C against the published check values (RFC 3720 B.4 and the "123456789" check),
// incremental use, and agreement of the 8-byte fast path with a bitwise reference.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { crc32c } from '../../src/checksum/crc32c.js';

/** Bit-by-bit CRC-32C, the slow definition the table method must agree with. */
function crc32cBitwise(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('crc32c', () => {
  it('matches the standard check value of "123456789"', () => {
    assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
  });

  it('matches the RFC 3720 vectors (32 zero bytes, 32 0xFF bytes, ascending and descending)', () => {
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(ascending), 0x46dd794e);
    assert.equal(crc32c(descending), 0x113fdb5c);
  });

  it('is 0 for no data', () => {
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  it('agrees with the bitwise definition for every length from 0 to 100 and odd offsets', () => {
    const data = Uint8Array.from({ length: 101 }, (_, i) => (i * 73 + 11) & 0xff);
    for (let length = 0; length <= 100; length++) {
      const view = data.subarray(1, 1 + length);
      assert.equal(crc32c(view), crc32cBitwise(view), `length ${length}`);
    }
  });

  it('continues over pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b)', () => {
    const whole = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      const crc = crc32c(whole.subarray(cut), crc32c(whole.subarray(0, cut)));
      assert.equal(crc, crc32c(whole), `cut at ${cut}`);
    }
  });

  it('rejects a previous crc that is not an unsigned 32-bit integer', () => {
    assert.throws(() => crc32c(new Uint8Array(1), -1), RangeError);
    assert.throws(() => crc32c(new Uint8Array(1), 2 ** 32), RangeError);
  });
});
