// The simulator's one source of randomness. Every decision in a run (node election
// jitter, network delays and losses, the fault schedule, client operations) draws from
// a stream forked from the run's seed, so a seed replays the run exactly. Each subsystem
// gets its own fork: a change in how often one of them draws leaves the others' choices
// as they were, which keeps a replayed failure recognisable after small edits.
import type { RandomSource } from '../../../raft/src/index.js';

const uint32Count = 0x1_0000_0000;

/** xoshiro128** seeded through splitmix32: small, fast, and good enough for simulation. */
export class SimRandom implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new Error(`SimRandom: seed must be a safe integer, got ${seed}`);
    // Fold the high bits in too, so seeds that differ only above 2^32 still differ.
    let state = (seed ^ Math.floor(seed / uint32Count)) >>> 0;
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
    this.s2 = splitmix();
    this.s3 = splitmix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A uniformly drawn unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / uint32Count;
  }

  /** An integer in [0, bound); bound is a positive safe integer below 2^32. */
  nextInt(bound: number): number {
    if (!Number.isSafeInteger(bound) || bound < 1 || bound > uint32Count) {
      throw new Error(`SimRandom.nextInt: bound must be an integer in [1, 2^32], got ${bound}`);
    }
    return Math.floor(this.next() * bound);
  }

  /** An integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    if (max < min) throw new Error(`SimRandom.intBetween: empty range [${min}, ${max}]`);
    return min + this.nextInt(max - min + 1);
  }

  /** True with probability permille / 1000. */
  chancePermille(permille: number): boolean {
    return this.nextInt(1000) < permille;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('SimRandom.pick: no items');
    const item = items[this.nextInt(items.length)];
    if (item === undefined) throw new Error('SimRandom.pick: index out of range');
    return item;
  }

  /** An independent stream derived from this one's current state and `label`. */
  fork(label: number): SimRandom {
    const a = this.nextUint32();
    const b = this.nextUint32();
    return new SimRandom(((a ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0) + (b & 0x1fffff) * uint32Count);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
