/**
 * Memory of a layer scan whatever the file count (issue 16: "a layer with a million files must not
 * grow the heap"): a tar of N small files (default 1,000,000), generated while it is scanned, its
 * entries written to a stored file list on disk as the scan goes. Prints the live-memory growth
 * (heap and buffers after full collections), RSS growth, the time, and the file list's size per
 * entry. Run after a build:
 *
 *   node dist/bench/insight-million.js [FILES]
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileListWriter } from '../src/insight/file-list-codec';
import { scanLayer } from '../src/insight/scan-layer';
import { describePeaks, watchLiveMemory } from '../test/helpers/memory-watch';
import { tarStream, type TestEntry } from '../test/unit/insight/layers';
import { runMain } from './run-main';

function* manyFiles(count: number): Generator<TestEntry> {
  for (let i = 0; i < count; i++)
    yield { name: `usr/share/dir${i % 2000}/sub${i % 7}/file-${i}.txt`, content: `file ${i} ` + 'x'.repeat(i % 300) };
}

runMain(async () => {
  const files = Number(process.argv[2] ?? 1_000_000);
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-million-'));
  try {
    const listFile = path.join(dir, 'files.ndjson.gz');
    const list = fileListWriter(createWriteStream(listFile));
    const watch = watchLiveMemory({ liveEveryMs: 1000 });
    const started = Date.now();
    const summary = await scanLayer(tarStream(manyFiles(files)), {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      onEntry: (entry) => list.write(entry),
    });
    await list.end();
    const peaks = watch.stop();
    const seconds = (Date.now() - started) / 1000;
    const listBytes = (await stat(listFile)).size;
    console.log(`node ${process.version}: ${summary.fileCount} files, ${(summary.uncompressedSize / 2 ** 20).toFixed(0)} MiB of tar in ${seconds.toFixed(1)} s`);
    console.log(describePeaks(peaks));
    console.log(`file list: ${(listBytes / 2 ** 20).toFixed(1)} MiB, ${(listBytes / summary.entryCount).toFixed(1)} bytes per entry`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
