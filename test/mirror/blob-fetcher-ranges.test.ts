import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError } from '../../src/oci/errors';
import { blob, cached, collect, ManualUpstream, recorder, REPO, servingUpstream, until, withSetup } from './fetch-fixtures';

/*
 * BlobFetcher.get's `select`: a caller that wants part of the blob reads only that part of the
 * flight, from its offset, while the flight fetches, verifies and caches the whole blob.
 */

describe('mirror blob fetcher: a range of a blob in flight', { timeout: 60_000 }, () => {
  it('select gets the declared size; the stream carries only the range, read from its offset as the bytes arrive', () => {
    const { log, observer } = recorder();
    return withSetup('filesystem', { observer }, async (s) => {
      const b = blob(2 * 1024 * 1024);
      const up = new ManualUpstream(b.data.length);
      const sizes: number[] = [];
      const got = s.fetcher.get(REPO, b.digest, up.open, { select: (size) => (sizes.push(size), { start: 1_500_000, end: 1_599_999 }) });
      await up.send(b.data.subarray(0, 64 * 1024));
      const r = await got;
      assert.deepEqual(sizes, [b.data.length]);
      assert.deepEqual(r.range, { start: 1_500_000, end: 1_599_999 });
      await up.send(b.data.subarray(64 * 1024));
      (await up.current()).end();
      const body = await collect(r.stream);
      assert.equal(body.error, undefined);
      assert.ok(body.bytes.equals(b.data.subarray(1_500_000, 1_600_000)));
      assert.equal(log.servedBytes, 100_000, 'only the range was read for the caller');
      await until(() => s.fetcher.inFlight === 0);
      assert.ok(await cached(s, REPO, b.digest));
    });
  });

  it('an upstream that declares no size: select is not called, the caller gets the whole blob', () =>
    withSetup('memory', async (s) => {
      const b = blob(300 * 1024);
      const up = servingUpstream(b.data, { size: false });
      let called = false;
      const r = await s.fetcher.get(REPO, b.digest, up.open, { select: () => ((called = true), { start: 0, end: 9 }) });
      assert.equal(r.range, undefined);
      assert.ok((await collect(r.stream)).bytes.equals(b.data));
      assert.equal(called, false);
    }));

  it('a select that throws rejects get and leaves the flight: with finishAbandoned off, the fetch stops', () =>
    withSetup('memory', { finishAbandoned: false }, async (s) => {
      const b = blob(1024 * 1024);
      const up = new ManualUpstream(b.data.length);
      const refused = new DomainError('range-not-satisfiable', { size: b.data.length });
      const got = s.fetcher.get(REPO, b.digest, up.open, {
        select: () => {
          throw refused;
        },
      });
      await up.send(b.data.subarray(0, 64 * 1024));
      await assert.rejects(got, (err) => err === refused);
      await until(() => up.signals[0]?.aborted === true);
      assert.equal(await cached(s, REPO, b.digest), false);
    }));

  it('a blob found in storage: select applies to the stored blob', () =>
    withSetup('memory', async (s) => {
      const b = blob(256 * 1024);
      const up = servingUpstream(b.data);
      await collect((await s.fetcher.get(REPO, b.digest, up.open)).stream);
      await until(() => s.fetcher.inFlight === 0);
      const r = await s.fetcher.get(REPO, b.digest, up.open, { select: () => ({ start: 100, end: 199 }) });
      assert.equal(r.source, 'storage');
      assert.deepEqual(r.range, { start: 100, end: 199 });
      assert.ok((await collect(r.stream)).bytes.equals(b.data.subarray(100, 200)));
    }));
});
