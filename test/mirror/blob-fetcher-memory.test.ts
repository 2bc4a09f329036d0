import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../src/oci/digest';
import type { UpstreamBlob } from '../../src/mirror/blob-flight';
import { SPOOL_CHUNK } from '../../src/mirror/spool-reader';
import { describePeaks, MAX_OFF_HEAP_RSS_GROWTH, watchLiveMemory } from '../helpers/memory-watch';
import { assertStoreConsistent } from '../helpers/store-check';
import { setup, until, type Setup } from './fetch-fixtures';
import { generatedBlob, type GeneratedBlob } from './generated-blob';

const MiB = 1024 * 1024;
const SIZE = 200 * MiB;
/**
 * Brings the process to its working set under this load before the watch starts: from a cold start,
 * on Node 24, the allocator keeps up to 130 MiB of freed memory, which is growth but no leak.
 */
const WARM_UP_SIZE = 24 * MiB;
const READERS = 50;
/** Readers that hash what they get; the others only count it (hashing 10 GiB would dominate the run). */
const HASHING_READERS = 3;
/**
 * What the fetcher may hold, whatever the blob's size: about two spool chunks per reader (one
 * buffered, one being read), and some slack for the spool's writes and the test's own streams.
 * Holding the blob would take 200 MiB.
 */
const MAX_LIVE_GROWTH = READERS * 2 * SPOOL_CHUNK + 16 * MiB;
/** Unloaded, 5-10 s; a machine three times oversubscribed took 25 s. */
const MAX_SECONDS = 60;
const REPO = 'docker.io/library/big';

/** A generated blob and an upstream serving it, counting its opens. */
function upstreamOf(blob: GeneratedBlob) {
  const state = { opens: 0 };
  const open = async (): Promise<UpstreamBlob> => {
    state.opens++;
    return { stream: blob.stream(), size: blob.size };
  };
  return Object.assign(state, { digest: blob.digest, size: blob.size, open });
}

/** READERS concurrent reads of the blob through the fetcher: the bytes each got, and the hash of the first few. */
async function readConcurrently(s: Setup, blob: ReturnType<typeof upstreamOf>): Promise<Array<{ n: number; hex?: string }>> {
  return Promise.all(
    Array.from({ length: READERS }, async (_, i) => {
      const { stream } = await s.fetcher.get(REPO, blob.digest, blob.open);
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
}

function assertRead(results: Array<{ n: number; hex?: string }>, blob: { size: number; digest: Digest; opens: number }): void {
  assert.equal(blob.opens, 1);
  for (const r of results) assert.equal(r.n, blob.size);
  for (const r of results.slice(0, HASHING_READERS)) assert.equal(r.hex, blob.digest.hex);
}

describe('mirror blob fetcher under load', { timeout: 120_000 }, () => {
  it(`${SIZE / MiB} MiB to ${READERS} concurrent readers: one fetch, right bytes, flat memory`, async (t) => {
    const warmUp = upstreamOf(generatedBlob(WARM_UP_SIZE));
    const big = upstreamOf(generatedBlob(SIZE));
    const s = await setup('filesystem');
    try {
      assertRead(await readConcurrently(s, warmUp), warmUp);
      await until(() => s.fetcher.inFlight === 0);
      // Sampled often: the whole read takes about a second once readers share the fetch's newest chunks.
      const watch = watchLiveMemory({ liveEveryMs: 50 });
      const started = performance.now();
      const results = await readConcurrently(s, big);
      const seconds = (performance.now() - started) / 1000;
      await until(() => s.fetcher.inFlight === 0);
      const peaks = watch.stop();
      t.diagnostic(`${READERS} readers x ${SIZE / MiB} MiB: ${seconds.toFixed(1)} s, ${describePeaks(peaks)}`);
      assertRead(results, big);
      assert.ok(peaks.samples >= 5, `only ${peaks.samples} samples of live memory`);
      assert.ok(peaks.live < MAX_LIVE_GROWTH, `live memory grew by ${(peaks.live / MiB).toFixed(1)} MiB`);
      assert.ok(peaks.offHeapRss < MAX_OFF_HEAP_RSS_GROWTH, `RSS outside the heap grew by ${(peaks.offHeapRss / MiB).toFixed(1)} MiB`);
      assert.ok(seconds < MAX_SECONDS, `took ${seconds.toFixed(1)} s`);
      assert.equal((await s.registry.blobs.stat(REPO, big.digest)).size, SIZE);
      await assertStoreConsistent(s.driver);
    } finally {
      await s.dispose();
    }
  });
});
