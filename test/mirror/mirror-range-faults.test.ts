import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { until } from './fetch-fixtures';
import { getBlob } from './range-client';
import { MiB, useRangeSetup } from './range-setup';

/*
 * A Range GET of an uncached mirrored blob while the fetch is under way: it shares the fetch with
 * plain GETs, waits for the fetch to reach its start, leaves without stopping it, and gets a cut
 * response, never wrong bytes with a clean end, when the upstream fails or sends the wrong bytes.
 */

describe('Range GET of an uncached mirrored blob, mid-fetch', () => {
  const s = useRangeSetup();

  test('a plain GET and a Range GET past where the fetch is share one upstream GET', async () => {
    const blob = s.upstream.add(4 * MiB, { holdAfter: 1 * MiB });
    const plain = getBlob(s.url(blob));
    await blob.held;
    const from = 3 * MiB + 7;
    let head: number | undefined;
    let early = 0;
    const ranged = getBlob(s.url(blob), { Range: `bytes=${from}-` }, { onHead: (res) => (head = res.statusCode), onBytes: (n) => (early = n) });
    // The size is known: the 206's head comes at once, its bytes only once the fetch reaches them.
    await until(() => head !== undefined);
    assert.equal(head, 206);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(early, 0, 'no bytes before the fetch reached the range');
    blob.release();
    const [p, r] = await Promise.all([plain, ranged]);
    assert.equal(p.status, 200);
    assert.ok(p.complete && p.body.equals(blob.data), 'the plain GET gets the whole blob');
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${from}-${4 * MiB - 1}/${4 * MiB}`);
    assert.ok(r.complete && r.body.equals(blob.data.subarray(from)), 'the Range GET gets its bytes');
    assert.equal(s.upstream.gets(blob).length, 1, 'one upstream GET for both');
    await until(() => s.cached(blob));
  });

  test('a client that leaves mid-206 stops only its own response: the blob is still fetched and cached', async () => {
    const blob = s.upstream.add(4 * MiB, { holdAfter: 3 * MiB });
    const left = await getBlob(s.url(blob), { Range: `bytes=${1 * MiB}-` }, { leaveAfter: 64 * 1024 });
    assert.equal(left.status, 206);
    assert.ok(!left.complete);
    assert.ok(blob.data.subarray(MiB, MiB + left.body.length).equals(left.body), 'what it got is the blob from its offset');
    blob.release();
    await until(() => s.cached(blob));
    const plain = await getBlob(s.url(blob));
    assert.ok(plain.complete && plain.body.equals(blob.data));
    assert.equal(s.upstream.gets(blob).length, 1);
  });

  test('the upstream cut mid-way: the 206 is cut short, what arrived is right, nothing is cached', async () => {
    const blob = s.upstream.add(4 * MiB, { cutAfter: 2 * MiB + 4096 });
    const res = await getBlob(s.url(blob), { Range: `bytes=${1 * MiB}-` });
    assert.equal(res.status, 206);
    assert.ok(!res.complete, 'not a clean end');
    assert.ok(res.body.length < 3 * MiB);
    assert.ok(blob.data.subarray(MiB, MiB + res.body.length).equals(res.body), 'no wrong bytes');
    assert.equal(await s.cached(blob), false);
  });

  test('the upstream cut before the range starts: a cut 206 with no bytes', async () => {
    const blob = s.upstream.add(4 * MiB, { cutAfter: 1 * MiB });
    const res = await getBlob(s.url(blob), { Range: `bytes=${3 * MiB}-` });
    assert.equal(res.status, 206);
    assert.ok(!res.complete);
    assert.equal(res.body.length, 0);
    assert.equal(await s.cached(blob), false);
  });

  test('a range that ends before the blob does still ends cleanly only once the whole blob is verified', async () => {
    const blob = s.upstream.add(4 * MiB, { cutAfter: 2 * MiB });
    const res = await getBlob(s.url(blob), { Range: 'bytes=0-1023' });
    assert.equal(res.status, 206);
    assert.ok(!res.complete, 'the fetch failed: no clean end');
    assert.ok(res.body.length < 1024, 'its last byte is held until the digest is verified');
    assert.ok(blob.data.subarray(0, res.body.length).equals(res.body));
  });

  test('bytes that do not match the digest: the 206 never ends cleanly, nothing is cached', async () => {
    const blob = s.upstream.add(2 * MiB, { corrupt: true });
    const res = await getBlob(s.url(blob), { Range: `bytes=${1 * MiB}-` });
    assert.equal(res.status, 206);
    assert.ok(!res.complete, 'not a clean end');
    assert.ok(res.body.length < 1 * MiB, 'the last byte is withheld');
    assert.equal(await s.cached(blob), false);
  });
});
