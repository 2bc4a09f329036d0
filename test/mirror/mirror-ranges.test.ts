import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { until } from './fetch-fixtures';
import { getBlob } from './range-client';
import { MiB, useRangeSetup } from './range-setup';

/*
 * A Range GET of a mirrored blob that is not cached yet: a 206 of the bytes asked, served from the
 * fetch of the whole blob, which goes on to be verified and cached as for a plain GET.
 */

describe('Range GET of an uncached mirrored blob', () => {
  const s = useRangeSetup();

  test('bytes=N- (a resumed pull): 206 of the tail; the blob is cached and verified by one whole-blob upstream GET', async () => {
    const blob = s.upstream.add(3 * MiB);
    const from = 2 * MiB + 12345;
    const res = await getBlob(s.url(blob), { Range: `bytes=${from}-` });
    assert.equal(res.status, 206);
    assert.equal(res.headers['content-range'], `bytes ${from}-${blob.data.length - 1}/${blob.data.length}`);
    assert.equal(Number(res.headers['content-length']), blob.data.length - from);
    assert.equal(res.headers['docker-content-digest'], blob.digest);
    assert.ok(res.complete, 'a clean end');
    assert.ok(res.body.equals(blob.data.subarray(from)), 'exactly the requested bytes');

    await until(() => s.cached(blob));
    assert.deepEqual(s.upstream.gets(blob), [{ range: undefined }], 'one upstream GET, of the whole blob');
    const plain = await getBlob(s.url(blob));
    assert.equal(plain.status, 200);
    assert.ok(plain.complete && plain.body.equals(blob.data), 'the cached blob, whole');
    const again = await getBlob(s.url(blob), { Range: 'bytes=10-19' });
    assert.equal(again.status, 206);
    assert.ok(again.body.equals(blob.data.subarray(10, 20)));
    assert.equal(s.upstream.gets(blob).length, 1, 'later GETs are served locally');
  });

  test('a bounded range and a suffix range: 206 of exactly those bytes', async () => {
    const a = s.upstream.add(1 * MiB);
    const bounded = await getBlob(s.url(a), { Range: 'bytes=100-199' });
    assert.equal(bounded.status, 206);
    assert.equal(bounded.headers['content-range'], `bytes 100-199/${MiB}`);
    assert.equal(Number(bounded.headers['content-length']), 100);
    assert.ok(bounded.complete && bounded.body.equals(a.data.subarray(100, 200)));

    const b = s.upstream.add(1 * MiB);
    const suffix = await getBlob(s.url(b), { Range: 'bytes=-500' });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.headers['content-range'], `bytes ${MiB - 500}-${MiB - 1}/${MiB}`);
    assert.ok(suffix.complete && suffix.body.equals(b.data.subarray(MiB - 500)));
    await until(async () => (await s.cached(a)) && (await s.cached(b)));
  });

  test('a HEAD with a Range: the headers the GET would have (206 or 416), nothing fetched', async () => {
    const blob = s.upstream.add(1 * MiB);
    const head = await fetch(s.url(blob), { method: 'HEAD', headers: { Range: 'bytes=1000-' } });
    assert.equal(head.status, 206);
    assert.equal(head.headers.get('content-range'), `bytes 1000-${MiB - 1}/${MiB}`);
    assert.equal(Number(head.headers.get('content-length')), MiB - 1000);
    const past = await fetch(s.url(blob), { method: 'HEAD', headers: { Range: `bytes=${MiB}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${MiB}`);
    assert.equal(s.upstream.gets(blob).length, 0);
  });

  test('a range past the end: 416 with Content-Range bytes */size; the fetch still caches the blob', async () => {
    const blob = s.upstream.add(1 * MiB);
    const res = await getBlob(s.url(blob), { Range: `bytes=${MiB}-` });
    assert.equal(res.status, 416);
    assert.equal(res.headers['content-range'], `bytes */${MiB}`);
    assert.match(res.body.toString(), /"code":"UNSUPPORTED"/);
    // Every client left the fetch: it finishes anyway (FINISH_ABANDONED), as for a plain GET left early.
    await until(() => s.cached(blob));
    assert.equal(s.upstream.gets(blob).length, 1);
  });

  test('several ranges, an unparsable Range, an If-Range that does not match, or no declared size: the whole blob, 200', async () => {
    const cases: Record<string, string>[] = [
      { Range: 'bytes=0-9,20-29' },
      { Range: 'bytes=abc' },
      { Range: 'bytes=10-', 'If-Range': '"sha256:0000"' },
      { Range: 'bytes=10-', 'If-Range': 'Wed, 21 Oct 2015 07:28:00 GMT' },
    ];
    for (const headers of cases) {
      const blob = s.upstream.add(256 * 1024);
      const res = await getBlob(s.url(blob), headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(res.headers['content-range'], undefined);
      assert.ok(res.complete && res.body.equals(blob.data), JSON.stringify(headers));
    }
    const unsized = s.upstream.add(256 * 1024, { chunked: true });
    const whole = await getBlob(s.url(unsized), { Range: 'bytes=10-' });
    assert.equal(whole.status, 200, 'an upstream that declares no size: the range cannot be resolved yet');
    assert.ok(whole.complete && whole.body.equals(unsized.data));
    const blob = s.upstream.add(256 * 1024);
    const matching = await getBlob(s.url(blob), { Range: 'bytes=10-', 'If-Range': `"${blob.digest}"` });
    assert.equal(matching.status, 206, 'an If-Range of the blob ETag keeps the Range');
    assert.ok(matching.complete && matching.body.equals(blob.data.subarray(10)));
  });
});
