/**
 * The directory listings of a big layer (issue 17: "a file tree … lazy, paginated, handles a million
 * files"): a stored file list of N entries (default 1,000,000, in 2,000 directories of 7
 * subdirectories each, as bench/insight-million.ts lays them out) is written to disk, then timed:
 * decoding it whole (what a listing would cost without an index), building the layer's directory
 * index and the final filesystem's (image-dirs.ts, the report's merge), the index's memory, and
 * pages of 100 from the built index. Run after a build (`--expose-gc` for the memory figure):
 *
 *   node --expose-gc dist/bench/insight-dirs.js [FILES]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileListWriter, readFileList } from '../src/insight/file-list-codec';
import type { LayerEntry } from '../src/insight/layer-entry';
import type { DirIndex } from '../src/insight/tree/dir-index';
import { imageDirIndex } from '../src/insight/tree/image-dirs';
import { layerDirIndex } from '../src/insight/tree/layer-dirs';
import { runMain } from './run-main';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function* entries(count: number): Generator<LayerEntry> {
  for (let i = 0; i < count; i++) yield { path: `usr/share/dir${i % 2000}/sub${i % 7}/file-${i}.txt`, type: 'file', size: i % 300, mode: 0o644, uid: 0, gid: 0, digest: DIGEST };
}

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const result = await run();
  console.log(`${what}: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms`);
  return result;
}

function live(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

function pageTimes(index: DirIndex, dirs: string[]): string {
  const started = process.hrtime.bigint();
  let children = 0;
  for (const dir of dirs) children += index.page(index.find(dir)!, dir, 100).children.length;
  return `${dirs.length} pages (${children} children) in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`;
}

runMain(async () => {
  const count = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 1_000_000);
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-dirs-'));
  try {
    const file = path.join(dir, 'files.ndjson.gz');
    const writer = fileListWriter(createWriteStream(file));
    for (const e of entries(count)) await writer.write(e);
    await writer.end();
    console.log(`node ${process.version}: a file list of ${count} entries, ${((await stat(file)).size / 2 ** 20).toFixed(1)} MiB`);
    const read = () => readFileList(createReadStream(file));
    await timed('decode the whole list (no index)', async () => {
      let n = 0;
      for await (const _ of read()) n++;
      return n;
    });
    const before = live();
    const layer = await timed('build the layer index (decode + tree + freeze)', () => layerDirIndex(read(), 0));
    console.log(`layer index: ${layer.nodes} paths, ${((live() - before) / 2 ** 20).toFixed(0)} MiB of heap, ${((live() - before) / layer.nodes).toFixed(0)} bytes a path`);
    const image = await timed('build the final filesystem index (merge + freeze)', () => imageDirIndex([read()]));
    console.log(`root: ${pageTimes(layer, ['.'])}; usr/share (2,000 children): ${pageTimes(layer, ['usr/share'])}`);
    const many = Array.from({ length: 1000 }, (_, i) => `usr/share/dir${i}/sub${i % 7}`);
    console.log(`layer, leaf directories: ${pageTimes(layer, many)}; final: ${pageTimes(image, many)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
