// Which key each operation touches: uniform over the key space, or zipfian with skew θ (YCSB's
// "zipfian" request distribution, θ = 0.99: a few keys take most of the traffic), with the
// popular items scattered over the key space by a hash as YCSB's scrambled zipfian does.
// Keys are 16 bytes: 'k' and 15 decimal digits.

export const KEY_BYTES = 16;

export function keyOf(index: number): Buffer {
  const key = Buffer.from(`k${String(index).padStart(KEY_BYTES - 1, '0')}`);
  if (key.length !== KEY_BYTES) throw new Error(`key index ${index} does not fit ${KEY_BYTES} bytes`);
  return key;
}

export type KeyDistribution =
  { readonly kind: 'uniform' } | { readonly kind: 'zipf'; readonly theta: number };

export interface KeyChooser {
  /** A key index in [0, keysCount). */
  next(): number;
}

/** A small seeded generator (mulberry32), so two systems see the same key sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function keyChooser(distribution: KeyDistribution, keysCount: number, seed: number): KeyChooser {
  if (!Number.isSafeInteger(keysCount) || keysCount < 2) throw new Error('keysCount must be an integer >= 2');
  const random = seededRandom(seed);
  if (distribution.kind === 'uniform') return { next: () => Math.floor(random() * keysCount) };
  const zipf = zipfRanks(keysCount, distribution.theta, random);
  return { next: () => scatter(zipf(), keysCount) };
}

/**
 * Ranks 0..n-1 with P(rank i) ∝ 1/(i+1)^θ, by the closed-form method of Gray et al., "Quickly
 * generating billion-record synthetic databases" (SIGMOD 1994), which YCSB also uses.
 */
function zipfRanks(n: number, theta: number, random: () => number): () => number {
  if (!(theta > 0 && theta < 1)) throw new Error(`zipf θ must be in (0, 1), got ${theta}`);
  let zetaN = 0;
  for (let i = 1; i <= n; i++) zetaN += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetaN);
  return () => {
    const u = random();
    const uz = u * zetaN;
    if (uz < 1) return 0;
    if (uz < zeta2) return 1;
    return Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)));
  };
}

/** FNV-1a of the rank, folded into the key space: hot ranks land on scattered keys. */
function scatter(rank: number, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    h ^= (rank >>> (i * 8)) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % n;
}
