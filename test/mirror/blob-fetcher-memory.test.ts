import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest } from '../../src/oci/digest';
import type { UpstreamBlob } from '../../src/mirror/blob-flight';
import { SPOOL_CHUNK } from '../../src/mirror/spool-reader';
import { describePeaks, watchLiveMemory } from '../helpers/memory-watch';
import { assertStoreConsistent } from '../helpers/store-check';
import { setup, until } from './fetch-fixtures';

const MiB = 1024 * 1024;
const SIZE = 200 * MiB;
const READERS = 50;
/** Readers that hash what they get; the others only count it (hashing 10 GiB would dominate the run). */
const HASHING_READERS = 3;
/**
 * What the fetcher may hold, whatever the blob's size: about two spool chunks per reader (one
 * buffered, one being read), and some slack for the spool's writes and the test's own streams.
 * Holding the blob would take 200 MiB.
 */
const MAX_LIVE_GROWTH = READERS * 2 * SPOOL_CHUNK + 16 * MiB;
/** A backstop that garbage and V8's young generation fit under on Node 20 and 24, under load. */
const MAX_RSS_GROWTH = 128 * MiB;
const MAX_SECONDS = 30;
const BLOCK = 256 * 1024;

/** 200 MiB that never sit in memory at once: a random block, stamped with its index each time. */
function* chunks(block: Buffer): Generator<Buffer> {
  for (let i = 0; i < SIZE / BLOCK; i++) {
    const c = Buffer.from(block);
    c.writeUInt32BE(i, 0);
    yield c;
  }
}

describe('mirror blob fetcher under load', { timeout: 120_000 }, () => {
  it(`${SIZE / MiB} MiB to ${READERS} concurrent readers: one fetch, right bytes, flat memory`, async (t) => {
    const block = randomBytes(BLOCK);
    const hash = createHash('sha256');
    for (const c of chunks(block)) hash.update(c);
    const digest = parseDigest(`sha256:${hash.digest('hex')}`);
    const s = await setup('filesystem');
    try {
      let opens = 0;
      const open = async (): Promise<UpstreamBlob> => {
        opens++;
        return { stream: Readable.from(chunks(block), { objectMode: false }), size: SIZE };
      };
      const watch = watchLiveMemory();
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: READERS }, async (_, i) => {
          const { stream } = await s.fetcher.get('docker.io/library/big', digest, open);
          const h = i < HASHING_READERS ? createHash('sha256') : null;
          let n = 0;
          await pipeline(
            stream,
            new Writable({
              highWaterMark: 64 * 1024,
              write(chunk: Buffer, _enc, cb) {
                n += chunk.length;
                h?.update(chunk);
                cb();
              },
            }),
          );
          return { n, hex: h?.digest('hex') };
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      await until(() => s.fetcher.inFlight === 0);
      const peaks = watch.stop();
      t.diagnostic(`${READERS} readers x ${SIZE / MiB} MiB: ${seconds.toFixed(1)} s, ${describePeaks(peaks)}`);
      assert.equal(opens, 1);
      for (const r of results) assert.equal(r.n, SIZE);
      for (const r of results.slice(0, HASHING_READERS)) assert.equal(r.hex, digest.hex);
      assert.ok(peaks.samples >= 5, `only ${peaks.samples} samples of live memory`);
      assert.ok(peaks.live! < MAX_LIVE_GROWTH, `live memory grew by ${(peaks.live! / MiB).toFixed(1)} MiB`);
      assert.ok(peaks.rss < MAX_RSS_GROWTH, `RSS grew by ${(peaks.rss / MiB).toFixed(1)} MiB`);
      assert.ok(seconds < MAX_SECONDS, `took ${seconds.toFixed(1)} s`);
      assert.equal((await s.registry.blobs.stat('docker.io/library/big', digest)).size, SIZE);
      await assertStoreConsistent(s.driver);
    } finally {
      await s.dispose();
    }
  });
});
