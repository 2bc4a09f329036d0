/**
 * Seedable Zipf request sequences: a registry's pulls concentrate on a few popular images and spread a
 * long tail over the rest, so the read figures ask for many distinct manifests with Zipf's law rather
 * than one URL over and over. The same seed gives both registries the same sequence.
 */

/** mulberry32: uniform in [0, 1), reproducible from a 32-bit seed, fast enough for a request loop. */
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

/** Ranks 0..n-1 drawn with probability proportional to 1 / (rank + 1)^s, by inverting the CDF. */
export class Zipf {
  private readonly cdf: Float64Array;

  constructor(
    readonly items: number,
    readonly s: number,
  ) {
    if (!Number.isInteger(items) || items < 1) throw new Error(`Zipf: items must be a positive integer, not ${items}`);
    if (!(s >= 0)) throw new Error(`Zipf: the exponent must be >= 0, not ${s}`);
    this.cdf = new Float64Array(items);
    let sum = 0;
    for (let k = 0; k < items; k++) {
      sum += 1 / (k + 1) ** s;
      this.cdf[k] = sum;
    }
    for (let k = 0; k < items; k++) this.cdf[k] /= sum;
  }

  /** The rank (0 the most frequent) that a uniform draw `u` in [0, 1) falls on. */
  rank(u: number): number {
    let lo = 0;
    let hi = this.items - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** A seeded Fisher–Yates permutation of 0..n-1. */
function permutation(n: number, random: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface ZipfSequenceOptions {
  items: number;
  s: number;
  length: number;
  seed: number;
}

/**
 * `length` item indices in 0..items-1 drawn with Zipf's law. Which item has which rank is itself a
 * seeded shuffle, so the popular items are spread over the repositories and tags rather than being
 * the first ones pushed.
 */
export function zipfSequence({ items, s, length, seed }: ZipfSequenceOptions): Uint32Array {
  const random = seededRandom(seed);
  const zipf = new Zipf(items, s);
  const byRank = permutation(items, random);
  const out = new Uint32Array(length);
  for (let i = 0; i < length; i++) out[i] = byRank[zipf.rank(random())];
  return out;
}
