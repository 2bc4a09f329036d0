import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Expiring, ReadCache } from '../../src/oci/read-cache';

describe('read cache tables', () => {
  it('an entry is trusted until its ttl has passed, then read again', () => {
    let now = 1000;
    const t = new Expiring<string>(500, 10, () => now);
    t.set('a', 'x');
    now = 1500;
    assert.equal(t.get('a'), 'x');
    now = 1501;
    assert.equal(t.get('a'), undefined);
  });

  it('a ttl of 0 keeps nothing', () => {
    const t = new Expiring<string>(0, 10, () => 0);
    t.set('a', 'x');
    assert.equal(t.get('a'), undefined);
  });

  it('is bounded in entries, least recently used out first', () => {
    const t = new Expiring<number>(1000, 3, () => 1);
    for (let i = 0; i < 3; i++) t.set(`k${i}`, i);
    assert.equal(t.get('k0'), 0);
    for (let i = 3; i < 5; i++) t.set(`k${i}`, i);
    assert.deepEqual(['k0', 'k1', 'k2', 'k3', 'k4'].map((k) => t.get(k)), [0, undefined, undefined, 3, 4]);
  });

  it('manifest bodies stay under their byte budget, least recently used out first', () => {
    const { bodies } = new ReadCache({ ttlMs: 0, maxManifestBytes: 16 * 100 });
    const body = (n: number) => ({ bytes: Buffer.alloc(n), mediaType: 'm' });
    for (let i = 0; i < 20; i++) bodies.set(`d${i}`, body(100));
    const kept = Array.from({ length: 20 }, (_, i) => bodies.get(`d${i}`) !== undefined);
    assert.equal(kept.filter(Boolean).length, 16);
    assert.deepEqual(kept.slice(0, 4), [false, false, false, false]);
    bodies.set('huge', body(16 * 100));
    assert.equal(bodies.get('huge'), undefined, 'one body may not take more than a sixteenth');
  });

  it('forgetting mutable facts keeps content-addressed bodies', () => {
    const cache = new ReadCache({ ttlMs: 1000 });
    cache.tags.set('r:t', { algorithm: 'sha256', hex: 'a'.repeat(64), value: `sha256:${'a'.repeat(64)}` } as never);
    cache.bodies.set('sha256:x', { bytes: Buffer.from('{}'), mediaType: 'm' });
    cache.forgetMutable();
    assert.equal(cache.tags.get('r:t'), undefined);
    assert.ok(cache.bodies.get('sha256:x'));
  });

  it('a read-through does not cache what it loaded when the key was deleted or set during the load', async () => {
    const t = new Expiring<string>(1000, 10, () => 1);
    let finish = (_v: string): void => undefined;
    const loading = t.read('a', () => new Promise<string>((resolve) => (finish = resolve)));
    t.delete('a');
    finish('old');
    assert.equal(await loading, 'old', 'the reader still gets what it read');
    assert.equal(t.get('a'), undefined);

    const racing = t.read('a', () => new Promise<string>((resolve) => (finish = resolve)));
    t.set('a', 'new');
    finish('old');
    await racing;
    assert.equal(t.get('a'), 'new');

    const cleared = t.read('b', () => new Promise<string>((resolve) => (finish = resolve)));
    t.clear();
    finish('old');
    await cleared;
    assert.equal(t.get('b'), undefined);

    assert.equal(await t.read('c', async () => 'fresh'), 'fresh');
    assert.equal(await t.read('c', async () => 'not asked'), 'fresh', 'an undisturbed load is cached');
  });

  it('a load that fails caches nothing and later loads still cache', async () => {
    const t = new Expiring<string>(1000, 10, () => 1);
    await assert.rejects(t.read('a', async () => Promise.reject(new Error('gone'))));
    assert.equal(await t.read('a', async () => 'x'), 'x');
    assert.equal(t.get('a'), 'x');
  });
});
