import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareWalkOrder, WalkOrder } from './walk-order';

/** Feeds keys in S3's (byte) order and collects what comes out. */
function reorder(prefix: string, keys: string[]): string[] {
  const order = new WalkOrder(prefix.length);
  const out: string[] = [];
  for (const key of [...keys].sort()) out.push(...order.push(key));
  out.push(...order.finish());
  return out;
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('walk order from S3 byte order', () => {
  it('sorts "/" before every other character', () => {
    assert.ok(compareWalkOrder('a/b', 'a-b') < 0);
    assert.ok(compareWalkOrder('a/b', 'a.b') < 0);
    assert.ok(compareWalkOrder('a', 'a/b') < 0);
    assert.ok(compareWalkOrder('a/z', 'a0') < 0);
    assert.equal(compareWalkOrder('x/y', 'x/y'), 0);
  });

  it('puts a directory before siblings that continue its name', () => {
    const keys = ['r/a/b/c', 'r/a/b-c', 'r/a/b/d/e', 'r/a/bb', 'r/a0/x', 'r/A', 'r/z', 'r/v1.0/x', 'r/v1/x', 'r/d#upload', 'r/d-1'];
    const out = reorder('r/', keys);
    assert.deepEqual(out, ['r/A', 'r/a/b/c', 'r/a/b/d/e', 'r/a/b-c', 'r/a/bb', 'r/a0/x', 'r/d#upload', 'r/d-1', 'r/v1/x', 'r/v1.0/x', 'r/z']);
  });

  it('matches a full sort on random trees', () => {
    const next = random(7);
    const alphabet = ['a', 'b', '-', '.', '0'];
    for (let round = 0; round < 300; round++) {
      const keys = new Set<string>();
      for (let k = 0; k < 40; k++) {
        const depth = 1 + Math.floor(next() * 3);
        const parts = Array.from({ length: depth }, () =>
          Array.from({ length: 1 + Math.floor(next() * 3) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
        );
        keys.add(`root/${parts.join('/')}`);
      }
      const out = reorder('root/', [...keys]);
      assert.deepEqual(out, [...keys].sort(compareWalkOrder), `round ${round}`);
    }
  });

  it('holds nothing back when no name continues another', () => {
    const order = new WalkOrder(2);
    for (const key of ['p/a/1', 'p/a/2', 'p/b/1', 'p/c/d/e', 'p/c0']) assert.deepEqual(order.push(key), [key]);
    assert.deepEqual(order.finish(), []);
  });
});
