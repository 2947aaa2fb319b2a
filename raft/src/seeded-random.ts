// A small, fast, seeded PRNG (sfc32) so that election jitter is reproducible from a seed.
// Not cryptographic; it only has to spread election timeouts.
import type { RandomSource } from './config.js';
import { assert } from './invariants.js';

const UINT32_RANGE = 4294967296;
/** Outputs discarded after seeding so that close seeds diverge. */
const WARMUP_ROUNDS = 15;

export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), () => `seed must be a safe integer, got ${seed}`);
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = (seed ^ Math.floor(seed / UINT32_RANGE)) >>> 0;
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.nextUint32();
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / UINT32_RANGE;
  }

  /** An integer in [0, bound). */
  nextInt(bound: number): number {
    assert(
      Number.isSafeInteger(bound) && bound >= 1,
      () => `nextInt bound must be a positive integer, got ${bound}`,
    );
    const value = Math.floor(this.next() * bound);
    assert(value >= 0 && value < bound, 'nextInt result out of range');
    return value;
  }
}
