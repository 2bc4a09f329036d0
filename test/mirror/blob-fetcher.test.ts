import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { parseDigest } from '../../src/oci/digest';
import { assertStoreConsistent } from '../helpers/store-check';
import type { StorageDriver } from '../../storage-drivers/types';
import { paths } from '../../src/oci/paths';
import { sizeOf } from '../../src/oci/links';
import { RECENT_BYTES, type UpstreamBlob } from '../../src/mirror/blob-flight';
import { assertNothingCached, blob, cached, collect, sha256, DRIVER_KINDS, firstChunk, ManualUpstream, recorder, REPO, servingUpstream, sessionGate, withSetup, spoolFiles, until } from './fetch-fixtures';

for (const kind of DRIVER_KINDS) {
  describe(`mirror blob fetcher (${kind} driver)`, { timeout: 60_000 }, () => {
    it('20 concurrent gets of one blob: one upstream fetch, every caller gets the bytes, then it is cached', async () => {
      const { log, observer } = recorder();
      await withSetup(kind, { observer }, async (s) => {
        const b = blob(3 * 1024 * 1024 + 17);
        const up = new ManualUpstream(b.data.length);
        const gets = Array.from({ length: 20 }, () => s.fetcher.get(REPO, b.digest, up.open));
        const sending = up.send(b.data).then(async () => (await up.current()).end());
        const results = await Promise.all(gets);
        const bodies = await Promise.all(results.map((r) => collect(r.stream)));
        await sending;
        assert.equal(up.opens, 1);
        for (const r of results) assert.equal(r.size, b.data.length);
        for (const body of bodies) {
          assert.equal(body.error, undefined);
          assert.ok(body.bytes.equals(b.data), 'a caller got other bytes');
        }
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        const again = await s.fetcher.get(REPO, b.digest, up.open);
        assert.equal(again.source, 'storage');
        assert.ok((await collect(again.stream)).bytes.equals(b.data));
        assert.equal(up.opens, 1);
        assert.deepEqual(
          { started: log.started, completed: log.completed, failed: log.failed, up: log.upstreamBytes, served: log.servedBytes, hits: log.hits },
          { started: 1, completed: 1, failed: [], up: b.data.length, served: 20 * b.data.length, hits: 1 },
        );
        assert.deepEqual(await spoolFiles(s.spool), []);
        await assertStoreConsistent(s.driver);
      });
    });

    it('a caller receives the first bytes while the upstream is still sending', () =>
      withSetup(kind, async (s) => {
        const b = blob(1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const got = s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 4096));
        const r = await got;
        assert.equal(r.source, 'upstream');
        const first = await firstChunk(r.stream);
        assert.ok(b.data.subarray(0, first.length).equals(first));
        assert.equal(await cached(s, REPO, b.digest), false);
        assert.deepEqual(await spoolFiles(s.spool), [], 'the spool file has a name while in use');
        await up.send(b.data.subarray(4096));
        (await up.current()).end();
        const rest = await collect(r.stream);
        assert.equal(rest.error, undefined);
        assert.ok(Buffer.concat([first, rest.bytes]).equals(b.data));
      }));

    it('a caller that keeps up gets the upstream bytes from memory, before the spool has them', async () => {
      // Reading each chunk back from the spool cost a copy and a thread-pool round trip per reader,
      // most of a cold pull's CPU. `upstreamBytes` is reported as each spool write completes.
      const { log, observer } = recorder();
      await withSetup(kind, { observer }, async (s) => {
        const b = blob(1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        const first = new Promise<{ chunk: Buffer; spooled: number }>((resolve) =>
          r.stream.once('data', (chunk: Buffer) => {
            r.stream.pause();
            resolve({ chunk, spooled: log.upstreamBytes });
          }),
        );
        await up.send(b.data.subarray(0, 4096));
        const { chunk, spooled } = await first;
        assert.ok(b.data.subarray(0, chunk.length).equals(chunk));
        assert.equal(spooled, 0, 'the caller waited for the spool write');
        await up.send(b.data.subarray(4096));
        (await up.current()).end();
        const rest = await collect(r.stream);
        assert.equal(rest.error, undefined);
        assert.ok(Buffer.concat([chunk, rest.bytes]).equals(b.data));
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        assert.equal(log.upstreamBytes, b.data.length);
      });
    });

    it('the fetch runs at most RECENT_BYTES ahead of the storage write, whatever the clients take', async () => {
      // A storage write left further behind read the rest back from the spool: on one CPU it never
      // caught up with the fetch. Here the session's creation is held, so the write has taken nothing.
      const gate = sessionGate();
      await withSetup(kind, { wrap: gate.wrap }, async (s) => {
        const b = blob(4 * 1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        let got = 0;
        r.stream.on('data', (c: Buffer) => void (got += c.length));
        const sending = up.send(b.data);
        await until(() => got > 0);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.ok(got <= RECENT_BYTES + 64 * 1024, `a client got ${got} bytes before the storage write took any`);
        gate.open();
        await sending;
        (await up.current()).end();
        await until(() => got === b.data.length);
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
      });
    });

    it('a storage write whose sink is busy (an S3 part upload) does not hold the fetch back', async () => {
      let release!: () => void;
      const busy = new Promise<void>((resolve) => (release = resolve));
      const slowSink = (d: StorageDriver): StorageDriver => ({
        ...d,
        writer: async (path, opts) => {
          const w = await d.writer(path, opts);
          // Every write waits until `release`, as a writer uploading a part takes nothing meanwhile.
          const write = w._write.bind(w);
          w._write = (chunk, enc, cb) => void busy.then(() => write(chunk, enc, cb));
          if (w._writev) {
            const writev = w._writev.bind(w);
            w._writev = (chunks, cb) => void busy.then(() => writev(chunks, cb));
          }
          return w;
        },
      });
      await withSetup(kind, { wrap: slowSink }, async (s) => {
        const b = blob(4 * 1024 * 1024);
        const up = new ManualUpstream(b.data.length);
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        let got = 0;
        r.stream.on('data', (c: Buffer) => void (got += c.length));
        await up.send(b.data);
        (await up.current()).end();
        // All but the last byte, which waits for the commit.
        await until(() => got === b.data.length - 1);
        release();
        await until(() => got === b.data.length);
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
      });
    });

    it('a reader that does not read stalls neither the fetch nor another reader', () =>
      withSetup(kind, async (s) => {
        const b = blob(16 * 1024 * 1024);
        const up = servingUpstream(b.data);
        const slow = await s.fetcher.get(REPO, b.digest, up.open);
        const fast = await s.fetcher.get(REPO, b.digest, up.open);
        const fastBody = await collect(fast.stream);
        assert.ok(fastBody.bytes.equals(b.data));
        // The blob is committed while the slow reader has read nothing.
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        assert.ok(slow.stream.readableLength < 4 * 1024 * 1024, `the slow reader buffered ${slow.stream.readableLength} bytes`);
        const slowBody = await collect(slow.stream);
        assert.ok(slowBody.bytes.equals(b.data));
        assert.equal(up.opens, 1);
      }));

    it('a blob committed by someone else between the check and the fetch is served from storage', () =>
      withSetup(kind, async (s) => {
        const b = blob(256 * 1024);
        const other = s.replica();
        const upstreamStream = new PassThrough();
        const open = async (): Promise<UpstreamBlob> => {
          // Another replica fetches and commits the blob while this one asks the upstream.
          const theirs = await other.get(REPO, b.digest, servingUpstream(b.data).open);
          await collect(theirs.stream);
          await until(() => other.inFlight === 0);
          return { stream: upstreamStream, size: b.data.length };
        };
        const r = await s.fetcher.get(REPO, b.digest, open);
        assert.equal(r.source, 'storage');
        assert.ok((await collect(r.stream)).bytes.equals(b.data));
        assert.ok(upstreamStream.destroyed, 'the upstream response was left open');
        await assertStoreConsistent(s.driver);
      }));

    it('a blob another repository holds is linked once the upstream confirms it, without its bytes', () =>
      withSetup(kind, async (s) => {
        const b = blob(256 * 1024);
        await collect((await s.fetcher.get('ghcr.io/a/b', b.digest, servingUpstream(b.data).open)).stream);
        await until(() => s.fetcher.inFlight === 0);
        const up = new ManualUpstream(b.data.length);
        const r = await s.fetcher.get(REPO, b.digest, up.open);
        assert.equal(r.source, 'storage');
        assert.equal(up.opens, 1);
        assert.ok((await collect(r.stream)).bytes.equals(b.data));
        assert.ok(await cached(s, REPO, b.digest));
      }));

    it('two replicas fetching the same blob at once both commit it', () =>
      withSetup(kind, async (s) => {
        const b = blob(2 * 1024 * 1024);
        const other = s.replica();
        const up1 = new ManualUpstream(b.data.length);
        const up2 = new ManualUpstream(b.data.length);
        const [r1, r2] = await Promise.all([
          s.fetcher.get(REPO, b.digest, up1.open),
          other.get(REPO, b.digest, up2.open),
          up1.send(b.data).then(async () => (await up1.current()).end()),
          up2.send(b.data).then(async () => (await up2.current()).end()),
        ]);
        const [b1, b2] = await Promise.all([collect(r1.stream), collect(r2.stream)]);
        assert.ok(b1.bytes.equals(b.data) && b2.bytes.equals(b.data));
        await until(() => s.fetcher.inFlight === 0 && other.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        await assertStoreConsistent(s.driver);
      }));

    it('a sha512 digest: verified as such, stored under its sha256 like a pushed one', () =>
      withSetup(kind, async (s) => {
        const data = blob(100 * 1024).data;
        const digest = parseDigest(`sha512:${createHash('sha512').update(data).digest('hex')}`);
        const r = await s.fetcher.get(REPO, digest, servingUpstream(data).open);
        assert.ok((await collect(r.stream)).bytes.equals(data));
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, digest));
        assert.notEqual(await sizeOf(s.driver, paths.blobData(sha256(data))), null);
        const other = parseDigest(`sha512:${createHash('sha512').update(blob(10).data).digest('hex')}`);
        const wrong = await s.fetcher.get(REPO, other, servingUpstream(data).open);
        assert.ok((await collect(wrong.stream)).error);
        await until(() => s.fetcher.inFlight === 0);
        assert.equal(await cached(s, REPO, other), false);
        await assertStoreConsistent(s.driver);
      }));

    it('chunks the upstream sends while a spool write is in flight go into the next write together', async () => {
      // Each write is a thread-pool round trip: taken one per socket chunk, in turn, they bounded a
      // cold pull at a fraction of the upstream's rate.
      let writes = 0;
      let bytes = 0;
      const observer = { upstreamBytes: (n: number) => void (writes++, (bytes += n)) };
      await withSetup(kind, { observer }, async (s) => {
        const b = blob(8 * 1024 * 1024);
        const chunks = b.data.length / (64 * 1024);
        const r = await s.fetcher.get(REPO, b.digest, servingUpstream(b.data).open);
        const body = await collect(r.stream);
        assert.ok(body.bytes.equals(b.data));
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, b.digest));
        assert.equal(bytes, b.data.length);
        assert.ok(writes <= chunks / 4, `${writes} spool writes for ${chunks} upstream chunks`);
      });
    });

    it('an empty blob', () =>
      withSetup(kind, async (s) => {
        const empty = Buffer.alloc(0);
        const r = await s.fetcher.get(REPO, sha256(empty), servingUpstream(empty).open);
        assert.equal(r.size, 0);
        const body = await collect(r.stream);
        assert.deepEqual({ length: body.bytes.length, ended: body.ended }, { length: 0, ended: true });
        await until(() => s.fetcher.inFlight === 0);
        assert.ok(await cached(s, REPO, sha256(empty)));
      }));

    it('close() at shutdown: fetches in flight stop, their readers error, nothing is cached', () =>
      withSetup(kind, async (s) => {
        const b = blob(512 * 1024);
        const up = new ManualUpstream(b.data.length);
        const got = s.fetcher.get(REPO, b.digest, up.open);
        await up.send(b.data.subarray(0, 64 * 1024));
        const { stream } = await got;
        await s.fetcher.close();
        assert.equal((await collect(stream)).error?.name, 'BlobFetchError');
        assert.ok(up.signals[0].aborted);
        assert.equal(s.fetcher.inFlight, 0);
        await assertNothingCached(s, b.digest);
      }));
  });
}
