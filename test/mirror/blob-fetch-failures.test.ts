import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertStoreConsistent } from '../helpers/store-check';
import type { UpstreamBlob } from '../../src/mirror/blob-flight';
import type { BlobFetchError } from '../../src/mirror/blob-fetch-error';
import type { StorageDriver } from '../../storage-drivers/types';
import { REPOSITORIES } from '../../src/oci/paths';
import { isNotFound } from '../../storage-drivers/errors';
import { assertNothingCached, blob, cached, collect, DRIVER_KINDS, firstChunk, ManualUpstream, recorder, REPO, servingUpstream, sessionGate, withSetup, until } from './fetch-fixtures';

for (const kind of DRIVER_KINDS) {
  describe(`mirror blob fetcher: failures and departures (${kind} driver)`, { timeout: 60_000 }, () => {
    it('a digest mismatch: every reader errors, never having all the bytes, nothing is cached', async () => {
      const { log, observer } = recorder();
      await withSetup(kind, { observer }, async (s) => {
        const b = blob(512 * 1024);
        const wrong = Buffer.from(b.data);
        wrong[1000] ^= 0xff;
        const up = servingUpstream(wrong);
        const readers = await Promise.all([1, 2, 3].map(() => s.fetcher.get(REPO, b.digest, up.open)));
        for (const body of await Promise.all(readers.map((r) => collect(r.stream)))) {
          assert.ok(body.error, 'a reader ended cleanly');
          assert.ok(body.bytes.length < b.data.length, 'a reader got every (wrong) byte');
        }
        await until(() => s.fetcher.inFlight === 0);
        assert.equal(log.failed.length, 1);
        await assertNothingCached(s, b.digest);
        // The next get asks the upstream again.
        const good = servingUpstream(b.data);
        const r = await s.fetcher.get(REPO, b.digest, good.open);
        assert.ok((await collect(r.stream)).bytes.equals(b.data));
        assert.equal(good.opens, 1);
      });
    });

    it('an upstream that breaks mid-blob: readers error, nothing is cached, the next get fetches again', () =>
      withSetup(kind, async (s) => {
        const b = blob(2 * 1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const first = s.fetcher.get(REPO, b.digest, up.open);
        await up.current();
        const readers = await Promise.all([first, s.fetcher.get(REPO, b.digest, up.open)]);
        await up.send(b.data.subarray(0, 1024 * 1024));
        (await up.current()).destroy(new Error('connection reset by upstream'));
        for (const body of await Promise.all(readers.map((r) => collect(r.stream)))) {
          assert.ok(body.error, 'a reader ended cleanly');
          assert.ok(b.data.subarray(0, body.bytes.length).equals(body.bytes));
        }
        await until(() => s.fetcher.inFlight === 0);
        await assertNothingCached(s, b.digest);
        const again = servingUpstream(b.data);
        const r = await s.fetcher.get(REPO, b.digest, again.open);
        assert.ok((await collect(r.stream)).bytes.equals(b.data));
        assert.equal(again.opens, 1);
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        await assertStoreConsistent(s.driver);
      }));

    it('a failure before a caller attached its consumer: no uncaught error, the consumer sees it later', () =>
      withSetup(kind, async (s) => {
        const b = blob(256 * 1024);
        const up = new ManualUpstream(b.data.length);
        const got = s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 1024));
        const { stream } = await got;
        (await up.current()).destroy(new Error('upstream went away'));
        await until(() => s.fetcher.inFlight === 0);
        await assert.rejects(
          pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() })),
          (err: BlobFetchError) => err.reason === 'upstream-failed',
        );
      }));

    it('an upstream that ends short of its declared size: readers error, nothing is cached', () =>
      withSetup(kind, async (s) => {
        const b = blob(300 * 1024);
        const up = new ManualUpstream(b.data.length);
        const got = s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 200 * 1024));
        (await up.current()).end();
        const body = await collect((await got).stream);
        assert.ok(body.error);
        await until(() => s.fetcher.inFlight === 0);
        await assertNothingCached(s, b.digest);
      }));

    const enospc = () => Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const storageRefusals: Array<[what: string, wrap: (d: StorageDriver) => StorageDriver]> = [
      ['storage refusing the write: readers error, the upstream request is aborted, nothing is cached', (d) => ({
        ...d,
        writer: async () => {
          throw enospc();
        },
      })],
      ['storage refusing the upload session: readers error with storage-failed, the upstream request is aborted', (d) => ({
        ...d,
        putContent: async (path, data, opts) => {
          if (path.endsWith('/startedat')) throw enospc();
          return d.putContent(path, data, opts);
        },
      })],
    ];
    for (const [what, wrap] of storageRefusals)
      it(what, () =>
        withSetup(kind, { wrap }, async (s) => {
          const b = blob(1024 * 1024);
          const up = new ManualUpstream(b.data.length);
          const got = s.fetcher.get(REPO, b.digest, up.open);
          await up.send(b.data.subarray(0, 64 * 1024));
          const body = await collect((await got).stream);
          assert.equal((body.error as BlobFetchError | undefined)?.reason, 'storage-failed');
          await until(() => up.signals[0].aborted);
          await until(() => s.fetcher.inFlight === 0);
          await assertNothingCached(s, b.digest);
        }),
      );

    it('the upstream is read while the upload session is created; close() waits for a failed flight to discard it', async () => {
      // An upstream socket left unread stops a remote upstream's transfer once its window is full.
      const gate = sessionGate();
      await withSetup(kind, { wrap: gate.wrap }, async (s) => {
        const b = blob(1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 64 * 1024));
        const first = await firstChunk(r.stream);
        assert.ok(b.data.subarray(0, first.length).equals(first));
        assert.equal(gate.held, 1, 'the session was created before the first byte was read');
        // The upstream breaks while the session is still being created: the flight takes no more
        // callers at once, but shutting down must wait until it has discarded the session.
        (await up.current()).destroy(new Error('connection reset'));
        assert.ok((await collect(r.stream)).error);
        await until(() => s.fetcher.inFlight === 0);
        let closed = false;
        const closing = s.fetcher.close().then(() => void (closed = true));
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(closed, false, 'close() returned while a session was being created');
        gate.open();
        await closing;
        const sessions = await s.driver.list(`${REPOSITORIES}/${REPO}/_uploads`).catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)));
        assert.deepEqual(sessions, [], 'the session was left behind');
        await assertNothingCached(s, b.digest);
      });
    });

    it('without a declared size the stream still ends only once the digest matched', () =>
      withSetup(kind, async (s) => {
        const b = blob(700 * 1024);
        const up = servingUpstream(b.data, { size: false });
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        assert.equal(r.size, undefined);
        assert.ok((await collect(r.stream)).bytes.equals(b.data));
        const bad = blob(700 * 1024);
        const wrong = servingUpstream(b.data, { size: false });
        const body = await collect((await s.fetcher.get(REPO, bad.digest, wrong.open)).stream);
        assert.ok(body.error, 'a stream of the wrong bytes ended cleanly');
      }));

    it('a caller that disconnects stops only its own stream', () =>
      withSetup(kind, async (s) => {
        const b = blob(2 * 1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const leaving = new AbortController();
        const a = s.fetcher.get(REPO, b.digest, up.open, { signal: leaving.signal });
        const other = s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 512 * 1024));
        const [ra, rb] = await Promise.all([a, other]);
        await firstChunk(ra.stream);
        leaving.abort();
        const aBody = await collect(ra.stream);
        assert.equal(aBody.error?.name, 'AbortError');
        await up.send(b.data.subarray(512 * 1024));
        (await up.current()).end();
        assert.ok((await collect(rb.stream)).bytes.equals(b.data));
        assert.equal(up.signals[0].aborted, false);
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
      }));

    it('a caller whose signal aborts before the upstream answers is rejected with it', () =>
      withSetup(kind, async (s) => {
        const b = blob(1024);
        let answer!: (u: UpstreamBlob) => void;
        const open = () => new Promise<UpstreamBlob>((r) => (answer = r));
        const ac = new AbortController();
        const got = s.fetcher.get(REPO, b.digest, open, { signal: ac.signal });
        await until(() => answer !== undefined);
        ac.abort();
        await assert.rejects(got, { name: 'AbortError' });
        const stream = new PassThrough();
        answer({ stream, size: b.data.length });
        stream.end(b.data);
        // Nobody is left, and the fetcher finishes what it started by default.
        await until(async () => cached(s, REPO, b.digest));
      }));

    for (const finishAbandoned of [true, false])
      it(`every caller gone, finishAbandoned ${finishAbandoned}: ${finishAbandoned ? 'the fetch finishes and caches the blob (the default)' : 'the upstream request is aborted, nothing cached'}`, () =>
        withSetup(kind, finishAbandoned ? {} : { finishAbandoned }, async (s) => {
          const b = blob(1024 * 1024);
          const up = new ManualUpstream(b.data.length);
          const ac = new AbortController();
          const r = s.fetcher.get(REPO, b.digest, up.open, { signal: ac.signal });
          await up.send(b.data.subarray(0, 64 * 1024));
          await firstChunk((await r).stream);
          ac.abort();
          if (finishAbandoned) {
            await up.send(b.data.subarray(64 * 1024));
            (await up.current()).end();
          } else await until(() => up.signals[0].aborted);
          await until(() => s.fetcher.inFlight === 0);
          assert.equal(up.signals[0].aborted, !finishAbandoned);
          if (finishAbandoned) assert.ok(await cached(s, REPO, b.digest));
          else await assertNothingCached(s, b.digest);
        }),
      );

    it('an upstream that refuses: every waiting caller is rejected with its error, and the next get asks again', async () => {
      const { log, observer } = recorder();
      await withSetup(kind, { observer }, async (s) => {
        const b = blob(1024);
        let opens = 0;
        const refuse = async (): Promise<UpstreamBlob> => {
          opens++;
          await new Promise((r) => setTimeout(r, 20));
          throw new Error('upstream says 404');
        };
        const results = await Promise.allSettled([1, 2, 3].map(() => s.fetcher.get(REPO, b.digest, refuse)));
        assert.equal(opens, 1);
        for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as Error).message, 'upstream says 404');
        await assert.rejects(s.fetcher.get(REPO, b.digest, refuse), /404/);
        assert.equal(opens, 2);
        assert.equal(log.failed.length, 2);
        await assertNothingCached(s, b.digest);
      });
    });
  });
}

