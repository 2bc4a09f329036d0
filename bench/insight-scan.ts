/**
 * Layer-scan throughput (src/insight/scan-layer.ts): MB/s of compressed layer and of its tar, on
 * one core, for gzip, uncompressed and (on a Node.js with it) zstd, with and without the secret
 * search. The layer is generated first (not timed): files from 100 B to 2 MiB, log-uniform, half
 * text and half random bytes, so gzip shrinks it about as much as a distribution's layer. Run pinned
 * after a build, so that zlib's threads share the core:
 *
 *   taskset -c 1 node dist/bench/insight-scan.js [MiB of tar, default 128] [ROUNDS, default 3]
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { scanLayer } from '../src/insight/scan-layer';
import { zstdAvailable } from '../src/insight/layer-media-types';
import { compress, tarStream, type Compression, type TestEntry } from '../test/unit/insight/layers';
import { prng } from './insight-layers';
import { runMain } from './run-main';

const MiB = 1024 * 1024;
const WORDS = 'the layer file image registry push pull digest manifest blob config index tag const return'.split(' ');

function* layerFiles(totalBytes: number): Generator<TestEntry> {
  const random = prng(16);
  let total = 0;
  for (let i = 0; total < totalBytes; i++) {
    const size = Math.round(100 * Math.pow(2 * MiB / 100, random()));
    const content = Buffer.alloc(size);
    if (i % 2 === 0) for (let at = 0; at < size; ) at += content.write(WORDS[Math.floor(random() * WORDS.length)] + ' ', at);
    else for (let at = 0; at < size; at++) content[at] = Math.floor(random() * 256);
    total += size;
    yield { name: `usr/lib/pkg${i % 40}/file-${i}${i % 2 === 0 ? '.txt' : '.bin'}`, content };
  }
}

const MEDIA_TYPE: Record<Compression, string> = {
  none: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
};

async function scanOnce(file: string, compression: Compression, secretHeadBytes: number) {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const summary = await scanLayer(createReadStream(file, { highWaterMark: 256 * 1024 }), {
    mediaType: MEDIA_TYPE[compression],
    secretHeadBytes,
    onEntry: () => {},
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { summary, seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

runMain(async () => {
  const tarMiB = Number(process.argv[2] ?? 128);
  const rounds = Number(process.argv[3] ?? 3);
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-bench-'));
  try {
    const compressions: Compression[] = zstdAvailable() ? ['gzip', 'none', 'zstd'] : ['gzip', 'none'];
    const files = new Map<Compression, string>();
    for (const compression of compressions) {
      const file = path.join(dir, `layer.${compression}`);
      await pipeline(compress(tarStream(layerFiles(tarMiB * MiB)), compression), createWriteStream(file));
      files.set(compression, file);
      console.log(`${compression}: ${((await stat(file)).size / MiB).toFixed(1)} MiB`);
    }
    console.log(`node ${process.version}; median of ${rounds}; MB = 10^6 bytes`);
    console.log('compression  secrets  compressed MB/s  tar MB/s  CPU s per compressed GB  files');
    for (const compression of compressions)
      for (const secretHeadBytes of [64 * 1024, 0]) {
        const runs = [];
        for (let r = 0; r < rounds; r++) runs.push(await scanOnce(files.get(compression)!, compression, secretHeadBytes));
        runs.sort((a, b) => a.seconds - b.seconds);
        const { summary, seconds, cpuSeconds } = runs[Math.floor(runs.length / 2)];
        console.log(
          [
            compression.padEnd(11),
            (secretHeadBytes > 0 ? '64 KiB' : 'off').padEnd(7),
            (summary.compressedSize / 1e6 / seconds).toFixed(0).padStart(15),
            (summary.uncompressedSize / 1e6 / seconds).toFixed(0).padStart(9),
            (cpuSeconds / (summary.compressedSize / 1e9)).toFixed(1).padStart(24),
            String(summary.fileCount).padStart(6),
          ].join('  '),
        );
      }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
