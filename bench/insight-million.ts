/**
 * Memory of a layer scan whatever the file count (issue 16: "a layer with a million files must not
 * grow the heap"): a tar of N small files (default 1,000,000), generated while it is scanned, its
 * entries written to a stored file list on disk as the scan goes. Prints the live-memory growth
 * (heap and buffers after full collections), RSS growth, the time, and the file list's size per
 * entry. With `--analyser`, the tar is first stored as a blob in a filesystem store and analysed
 * as a pushed layer is (analyse-blob.ts: the read, the sniff, the scan, the file list written through
 * the storage driver, the record). Run after a build (`--expose-gc` for the live figure):
 *
 *   node --expose-gc dist/bench/insight-million.js [FILES] [--analyser]
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createFilesystemDriver } from '../storage-drivers';
import { analyseBlob } from '../src/insight/analyse-blob';
import { parseDigest } from '../src/oci/digest';
import { paths } from '../src/oci/paths';
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

/** Stores the tar as a blob, then analyses it through the filesystem driver. */
async function throughAnalyser(files: number, dir: string): Promise<void> {
  const driver = createFilesystemDriver({ rootDirectory: dir });
  const tarFile = path.join(dir, 'layer.tar');
  const hash = createHash('sha256');
  await pipeline(tarStream(manyFiles(files)), async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
  }, createWriteStream(tarFile));
  const d = parseDigest(`sha256:${hash.digest('hex')}`);
  await mkdir(path.dirname(path.join(dir, paths.blobData(d))), { recursive: true });
  await rename(tarFile, path.join(dir, paths.blobData(d)));
  const watch = watchLiveMemory({ liveEveryMs: 1000 });
  const started = Date.now();
  const result = await analyseBlob(driver, d, { secretHeadBytes: 64 * 1024, assertHeld: () => {} });
  const peaks = watch.stop();
  const seconds = (Date.now() - started) / 1000;
  if (result.kind !== 'recorded') throw new Error('the blob was not analysed');
  const { record } = result;
  const listBytes = (await driver.stat(paths.insightFileList(d))).size;
  console.log(`node ${process.version}, analyser: ${record.fileCount} files, ${(record.compressedSize / 2 ** 20).toFixed(0)} MiB blob (uncompressed tar) in ${seconds.toFixed(1)} s`);
  console.log(describePeaks(peaks));
  console.log(`file list: ${(listBytes / 2 ** 20).toFixed(1)} MiB, ${(listBytes / (record.entryCount ?? 1)).toFixed(1)} bytes per entry`);
}

runMain(async () => {
  const files = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-million-'));
  if (process.argv.includes('--analyser')) {
    try {
      return await throughAnalyser(files, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
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
