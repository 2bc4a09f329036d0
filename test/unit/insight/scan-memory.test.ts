import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { scanLayer } from '../../../src/insight/scan-layer';
import { describePeaks, watchLiveMemory } from '../../helpers/memory-watch';
import { TAR, tarStream, type TestEntry } from './layers';

const MiB = 1024 * 1024;
const FILES = 200_000;

function* manyFiles(count: number): Generator<TestEntry> {
  for (let i = 0; i < count; i++)
    yield { name: `usr/share/dir${i % 500}/file-${i}.txt`, content: `file ${i} ` + 'x'.repeat(i % 200) };
}

// Holding the entries would take about 60 MiB at this count (a path, a digest and an object each:
// 60 MiB measured, with the scan keeping them); the scan itself holds parser buffers and one file's head.
const MAX_LIVE_GROWTH = 16 * MiB;

test(`a ${FILES.toLocaleString('en')}-file layer is scanned with the heap bounded`, { timeout: 180_000 }, async () => {
  // Uncompressed: gzip fed by the packer's 512-byte writes would take most of the test's time, and
  // the scan's buffers do not depend on the compression.
  const blob: Readable = tarStream(manyFiles(FILES));
  const watch = watchLiveMemory({ liveEveryMs: 200 });
  let entries = 0;
  let bytes = 0;
  const summary = await scanLayer(blob, {
    mediaType: TAR,
    onEntry: async (entry) => {
      entries++;
      bytes += entry.size;
      // The tar parser and packer run on microtasks; a sink that never waited would starve the
      // watch's timers (a storage writer waits on its destination, as this pause does).
      if (entries % 2000 === 0) await new Promise(setImmediate);
    },
  });
  const peaks = watch.stop();
  assert.equal(summary.fileCount, FILES);
  assert.equal(entries, FILES);
  assert.ok(bytes > FILES * 100);
  assert.ok(peaks.samples >= 5, `too short to sample: ${describePeaks(peaks)}`);
  assert.ok(peaks.live < MAX_LIVE_GROWTH, describePeaks(peaks));
});
