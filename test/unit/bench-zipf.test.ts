import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, Zipf, zipfSequence } from '../../bench/zipf';

/** The generalised harmonic number H(n, s): Zipf's normalising constant. */
function harmonic(n: number, s: number): number {
  let h = 0;
  for (let k = 1; k <= n; k++) h += 1 / k ** s;
  return h;
}

/** How often each item occurs, most frequent first. */
function frequenciesDescending(sequence: ArrayLike<number>, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (let i = 0; i < sequence.length; i++) counts[sequence[i]]++;
  return counts.map((c) => c / sequence.length).sort((a, b) => b - a);
}

describe('bench Zipf sampler', () => {
  it('gives the same sequence for the same seed, and another for another seed', () => {
    const a = zipfSequence({ items: 10_000, s: 1, length: 50_000, seed: 15 });
    const b = zipfSequence({ items: 10_000, s: 1, length: 50_000, seed: 15 });
    const c = zipfSequence({ items: 10_000, s: 1, length: 50_000, seed: 16 });
    assert.deepEqual(a, b);
    let same = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === c[i]) same++;
    assert.ok(same < a.length / 10, `seeds 15 and 16 agree on ${same} of ${a.length} requests`);
  });

  it('draws every item index within range', () => {
    const seq = zipfSequence({ items: 37, s: 1, length: 20_000, seed: 1 });
    for (const item of seq) assert.ok(Number.isInteger(item) && item >= 0 && item < 37, `item ${item}`);
  });

  it('draws rank k with probability 1 / (k^s H(n, s))', () => {
    for (const s of [1, 1.2]) {
      const n = 1000;
      const zipf = new Zipf(n, s);
      const random = seededRandom(42);
      const draws = 400_000;
      const counts = new Array<number>(n).fill(0);
      for (let i = 0; i < draws; i++) counts[zipf.rank(random())]++;
      const h = harmonic(n, s);
      for (const k of [1, 2, 3, 5, 10, 50]) {
        const expected = 1 / (k ** s * h);
        const got = counts[k - 1] / draws;
        assert.ok(Math.abs(got - expected) / expected < 0.08, `s=${s} rank ${k}: ${got} drawn, ${expected} expected`);
      }
      // The tail as a whole: ranks 101..n.
      let tail = 0;
      let tailExpected = 0;
      for (let k = 101; k <= n; k++) {
        tail += counts[k - 1] / draws;
        tailExpected += 1 / (k ** s * h);
      }
      assert.ok(Math.abs(tail - tailExpected) / tailExpected < 0.05, `s=${s} ranks 101-${n}: ${tail} drawn, ${tailExpected} expected`);
    }
  });

  it('spreads popularity over the items (a seeded permutation), keeping the Zipf shape', () => {
    const n = 10_000;
    const seq = zipfSequence({ items: n, s: 1, length: 300_000, seed: 7 });
    const freq = frequenciesDescending(seq, n);
    const h = harmonic(n, 1);
    assert.ok(Math.abs(freq[0] - 1 / h) / (1 / h) < 0.08, `most frequent item: ${freq[0]}, expected ${1 / h}`);
    assert.ok(Math.abs(freq[9] - 1 / (10 * h)) / (1 / (10 * h)) < 0.15, `10th: ${freq[9]}, expected ${1 / (10 * h)}`);
    // The most popular item is not simply item 0, and the top ten are not items 0-9.
    const counts = new Array<number>(n).fill(0);
    for (const item of seq) counts[item]++;
    const top = counts
      .map((count, item) => ({ count, item }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 10)
      .map((e) => e.item);
    assert.notDeepEqual(
      [...top].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  it('rejects a distribution it cannot draw', () => {
    assert.throws(() => new Zipf(0, 1), /items/);
    assert.throws(() => new Zipf(10, -1), /exponent/);
  });
});
