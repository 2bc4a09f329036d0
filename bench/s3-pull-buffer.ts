/**
 * Compares builds of Berth that differ only in the S3 download's buffering: each variant is a copy
 * of dist/ (its storage-drivers/s3/timeouts.js edited), started as a process on one shared bucket of
 * a fresh RGW, with no proxy between. One blob per size is pushed once; then, round after round and
 * in rotating order, each variant serves a pull of each, timed by the bench's raw client. Run by hand
 * after a build:
 *
 *   node dist/bench/s3-pull-buffer.js ROUNDS DIST_DIR...
 */
import path from 'node:path';
import { startRgw } from '../test/helpers/rgw';
import type { BerthOnS3, startBerthOnS3 } from '../test/s3/berth-on-s3';
import { PatternBlob } from './blob-data';
import { HttpClient } from './http-client';
import { pullBlob, pushMonolithic } from './oci';
import { runMain } from './run-main';

const MiB = 1024 * 1024;
const SIZES = [256, 512];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2]);
  const dirs = process.argv.slice(3);
  if (!Number.isInteger(rounds) || rounds < 1 || dirs.length === 0) throw new Error('usage: s3-pull-buffer.js ROUNDS DIST_DIR...');
  const rgw = await startRgw();
  const servers: { name: string; reg: BerthOnS3 }[] = [];
  try {
    const bucket = `pull-buffer-${Date.now() % 100_000}`;
    await rgw.createBucket(bucket);
    const onBucket = { ...rgw, createBucket: async () => undefined };
    for (const dir of dirs) {
      // Each copy's helper starts that copy's main.js.
      const start = ((await import(path.resolve(dir, 'test/s3/berth-on-s3.js'))) as { startBerthOnS3: typeof startBerthOnS3 }).startBerthOnS3;
      const reg = await start(onBucket, { redirect: false, env: { REGISTRY_STORAGE_S3_BUCKET: bucket } });
      servers.push({ name: path.basename(path.resolve(dir, '..')), reg });
    }
    const blobs = SIZES.map((size) => PatternBlob.create(`pull-buffer-${size}`, size * MiB));
    const first = new HttpClient(servers[0].reg.url, 1);
    for (const blob of blobs) await pushMonolithic(first, 'bench/pull', blob);
    const rates = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++)
      for (const [i, blob] of blobs.entries())
        for (let k = 0; k < servers.length; k++) {
          const { name, reg } = servers[(round + k) % servers.length];
          const t0 = performance.now();
          const bytes = await pullBlob(new HttpClient(reg.url, 1), 'bench/pull', blob.digest);
          const rate = bytes / 1e6 / ((performance.now() - t0) / 1000);
          const key = `${name} ${SIZES[i]}MiB`;
          rates.set(key, [...(rates.get(key) ?? []), rate]);
          console.log(`round ${round + 1} ${key}: ${rate.toFixed(0)} MB/s`);
        }
    console.log('\nvariant size: median MB/s (each round)');
    for (const [key, xs] of rates) console.log(`${key}: ${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(' ')})`);
  } finally {
    // The servers share a bucket their own stop() does not know; stopping RGW discards it.
    for (const s of servers) await s.reg.berth.stop().catch(() => undefined);
    await rgw.stop();
  }
}

runMain(main);
