/**
 * Where a large S3 pull's time goes, Berth against Distribution on one RGW bucket (the layout is
 * shared, so one push serves both). Each registry runs twice, pinned as in the bench: straight to
 * RGW, and through a counting proxy in this process (as the bench's `s3` group runs them). The
 * blob is also read from RGW by this process itself with the SDK (what Node and the SDK reach
 * without a registry in between). Rounds alternate the order. Run by hand after a build:
 *
 *   node dist/bench/s3-pull-compare.js [rounds, default 3] [MiB, default 512] [ROOT...]
 *
 * Each ROOT (default: the current directory) is a checkout whose dist/ is built (a copy with one
 * file edited will do, with node_modules linked beside it): one Berth of each is compared.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import path from 'node:path';
import { startRgw } from '../test/helpers/rgw';
import { s3Client } from '../test/s3/berth-on-s3';
import { startCountingProxy } from '../test/s3/counting-proxy';
import { PatternBlob } from './blob-data';
import { Cleanup } from './cleanup';
import { HttpClient } from './http-client';
import { pullBlob, pushMonolithic } from './oci';
import { runMain } from './run-main';
import { pinSelf, startServer, type RunningServer } from './servers';
import { withServerCpu } from './proc';

const MiB = 1024 * 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const size = Number(process.argv[3] ?? 512) * MiB;
  pinSelf();
  const cleanup = new Cleanup();
  const rgw = await startRgw();
  const proxy = await startCountingProxy(rgw.endpoint);
  const servers: { name: string; server: RunningServer }[] = [];
  const admin = s3Client(rgw);
  try {
    const bucket = `pull-compare-${Date.now() % 100_000}`;
    await rgw.createBucket(bucket);
    const roots = process.argv.length > 4 ? process.argv.slice(4) : [process.cwd()];
    const label = (root: string) => (roots.length === 1 ? 'berth' : `berth(${path.basename(root)})`);
    for (const via of ['direct', 'proxy'] as const) {
      const endpoint = via === 'direct' ? rgw.endpoint : proxy.url;
      const s3 = { endpoint, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, bucket };
      const opts = { cpuProfDir: null, shared: true, notifications: '', s3 };
      for (const root of roots) servers.push({ name: `${label(root)}-${via}`, server: await startServer('berth', root, cleanup, opts) });
      servers.push({ name: `reference-${via}`, server: await startServer('reference', process.cwd(), cleanup, opts) });
    }
    const blob = PatternBlob.create('pull-compare', size);
    const first = new HttpClient(servers[0].server.target.base, 1);
    await pushMonolithic(first, 'bench/pull', blob);
    first.close();
    const hex = blob.digest.slice('sha256:'.length);
    const key = `docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    const sdkRead = async () => {
      const got = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      let n = 0;
      for await (const chunk of got.Body as AsyncIterable<Buffer>) n += chunk.length;
      return n;
    };
    const rates = new Map<string, number[]>();
    const runs: { name: string; pid?: number; pull: () => Promise<number> }[] = [
      ...servers.map(({ name, server }) => ({ name, pid: server.target.pid, pull: () => pullBlob(new HttpClient(server.target.base, 1), 'bench/pull', blob.digest) })),
      { name: 'sdk-in-bench', pull: sdkRead },
    ];
    for (let round = 0; round < rounds; round++) {
      console.log(`round ${round + 1}`);
      for (let k = 0; k < runs.length; k++) {
        const { name, pid, pull } = runs[(round + k) % runs.length];
        const t0 = performance.now();
        const { result: bytes, cpu } = pid === undefined ? { result: await pull(), cpu: NaN } : await withServerCpu(pid, pull);
        const s = (performance.now() - t0) / 1000;
        if (bytes !== size) throw new Error(`${name}: ${bytes} bytes, expected ${size}`);
        const rate = bytes / 1e6 / s;
        rates.set(name, [...(rates.get(name) ?? []), rate]);
        // Server CPU seconds against wall seconds: a server far below 1 is waiting, not computing.
        console.log(`  ${name}: ${rate.toFixed(0)} MB/s, ${s.toFixed(2)} s, server CPU ${cpu.toFixed(2)} s`);
      }
    }
    console.log('\nmedian MB/s (each round)');
    for (const [name, xs] of rates) console.log(`${name}: ${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(' ')})`);
  } finally {
    for (const s of servers) await s.server.stop().catch(() => undefined);
    cleanup.runNow();
    admin.destroy();
    await proxy.close();
    await rgw.stop();
  }
}

runMain(main);
