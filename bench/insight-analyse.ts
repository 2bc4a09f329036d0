/**
 * The whole analysis of a layer (src/insight/analyse-blob.ts: the blob read through the filesystem
 * driver, the scan, the file list written and committed, the record) on the `insight` group's
 * layers (bench/insight-layers.ts), in P processes side by side, each analysing every layer R times
 * in a store of its own: what `insight.processes` children can do on this machine. Reports MB/s of
 * compressed layer, each process's and in all. `--inflate-only`: only each layer's gunzip, the
 * floor of any analysis. Run after a build, pinned or not:
 *
 *   node dist/bench/insight-analyse.js [PROCESSES, default 1] [ROUNDS, default 3] [--inflate-only]
 *   taskset -c 1 node dist/bench/insight-analyse.js 1
 */
import { fork } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createFilesystemDriver } from '../storage-drivers';
import { analyseBlob } from '../src/insight/analyse-blob';
import { CHILD_NODE_FLAGS } from '../src/insight/child/analysis-child';
import { parseDigest, type Digest } from '../src/oci/digest';
import { paths } from '../src/oci/paths';
import { baseLayers } from './insight-layers';
import { runMain } from './run-main';
import { MiB } from './stats';

const TAR_BYTES = 9 * MiB; // bench/figures/insight.ts's layers

interface Outcome {
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMiB: number;
}

/**
 * One process: copies the layers (files named `<hex>` in `layersDir`) into a store of its own, then
 * analyses each of them `rounds` times, timed.
 */
async function analyseAll(layersDir: string, rounds: number, inflateOnly: boolean): Promise<Outcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-insight-analyse-'));
  try {
    const driver = createFilesystemDriver({ rootDirectory: dir });
    const blobs: Array<[Digest, number]> = [];
    for (const hex of await readdir(layersDir)) {
      const d = parseDigest(`sha256:${hex}`);
      const file = path.join(dir, paths.blobData(d));
      await mkdir(path.dirname(file), { recursive: true });
      await copyFile(path.join(layersDir, hex), file);
      blobs.push([d, (await driver.stat(paths.blobData(d))).size]);
    }
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    let bytes = 0;
    for (let r = 0; r < rounds; r++)
      for (const [d, size] of blobs) {
        if (inflateOnly) await inflate(path.join(dir, paths.blobData(d)));
        else {
          const result = await analyseBlob(driver, d, { secretHeadBytes: 64 * 1024, assertHeld: () => {} });
          if (result.kind !== 'recorded' || result.record.outcome !== 'analysed') throw new Error(`${d.value} was not analysed`);
        }
        bytes += size;
      }
    const used = process.cpuUsage(cpu);
    const maxRssMiB = process.resourceUsage().maxRSS / 1024;
    return { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: (used.user + used.system) / 1e6, maxRssMiB };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Only the gunzip of a layer, to nowhere: the least any analysis of it costs. */
async function inflate(file: string): Promise<void> {
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), createGunzip({ chunkSize: 256 * 1024 }), sink);
}

function inChild(args: string[]): Promise<Outcome | undefined> {
  return new Promise((resolve, reject) => {
    // The analysis child's own flags: what `insight.processes` children do.
    const child = fork(__filename, args, { execArgv: args[0] === '--child' ? [...CHILD_NODE_FLAGS] : [] });
    let outcome: Outcome | undefined;
    child.once('message', (m) => (outcome = m as Outcome));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(outcome) : reject(new Error(`${args[0]} process exited ${code}`))));
  });
}

const mbps = (bytes: number, seconds: number): string => (bytes / 1e6 / seconds).toFixed(1);

runMain(async () => {
  if (process.argv[2] === '--generate') {
    for (const base of (await baseLayers(TAR_BYTES)).bases) await writeFile(path.join(process.argv[3], createHash('sha256').update(base).digest('hex')), base);
    return;
  }
  if (process.argv[2] === '--child') {
    const outcome = await analyseAll(process.argv[3], Number(process.argv[4]), process.argv[5] === '--inflate-only');
    await new Promise<void>((resolve) => process.send!(outcome, () => resolve()));
    return;
  }
  const inflateOnly = process.argv.includes('--inflate-only');
  const [processes, rounds] = [Number(process.argv[2] ?? 1), Number(process.argv[3] ?? 3)];
  const layersDir = await mkdtemp(path.join(tmpdir(), 'berth-insight-layers-'));
  let outcomes: Outcome[];
  try {
    // In a process of its own: this one's heap of generator garbage, collected by V8's memory
    // reducer while the analyses run, took a quarter of a pinned core from them (tried).
    await inChild(['--generate', layersDir]);
    outcomes = (await Promise.all(Array.from({ length: processes }, () => inChild(['--child', layersDir, String(rounds), ...(inflateOnly ? ['--inflate-only'] : [])])))) as Outcome[];
  } finally {
    await rm(layersDir, { recursive: true, force: true });
  }
  console.log(`node ${process.version}; ${processes} process(es), ${rounds} rounds of ${TAR_BYTES / MiB} MiB-tar layers each; MB = 10^6 bytes`);
  for (const o of outcomes) console.log(`  ${(o.bytes / 1e6).toFixed(0)} MB in ${o.seconds.toFixed(2)} s: ${mbps(o.bytes, o.seconds)} MB/s, ${mbps(o.bytes, o.cpuSeconds)} MB per CPU second, peak RSS ${o.maxRssMiB.toFixed(0)} MiB`);
  const total = outcomes.reduce((n, o) => n + o.bytes, 0);
  console.log(`in all: ${mbps(total, Math.max(...outcomes.map((o) => o.seconds)))} MB/s`);
});
