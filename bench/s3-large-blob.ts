/**
 * Measures Berth's memory while docker pushes and pulls one large layer through it into S3 (a real
 * RGW started here). Run by hand as root, after a build:
 *
 *   node dist/bench/s3-large-blob.js [MiB, default 2048]
 *
 * Berth runs with redirects off, so the pull streams every byte through it too. Its S3 requests go
 * through a counting proxy, to show how the upload was cut into parts and how the commit moved the
 * blob (UploadPartCopy inside S3, not through Berth). Needs about 4x the layer size free below /tmp
 * (random file, build context copy, vfs layer, pulled layer) and 2x in RAM for RGW's memstore.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startDockerd } from '../test/helpers/dockerd';
import { removeTree } from '../test/helpers/daemon';
import { run } from '../test/helpers/exec';
import { startRgw } from '../test/helpers/rgw';
import { startBerthOnS3, type BerthOnS3 } from '../test/s3/berth-on-s3';
import { countByOperation, startCountingProxy, type CountingProxy } from '../test/s3/counting-proxy';
import { formatRss, sampleRss } from './s3-rss-sampler';
import { runMain } from './run-main';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const sizeMiB = Number(process.argv[2] ?? 2048);
  if (!Number.isInteger(sizeMiB) || sizeMiB <= 0) throw new Error(`usage: s3-large-blob.js [MiB]; got ${process.argv[2]}`);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const work = await mkdtemp(path.join(os.tmpdir(), 'bench-s3-large-'));
    cleanups.push(() => removeTree(work));
    console.log((await run('df', ['-h', work])).stdout.trim());

    const ctx = path.join(work, 'ctx');
    await mkdir(ctx);
    let t = Date.now();
    await run('sh', ['-c', `head -c ${sizeMiB * MiB} /dev/urandom > ${path.join(ctx, 'big.bin')}`], { timeoutMs: 600_000 });
    await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
    console.log(`wrote ${sizeMiB} MiB of random data in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const [rgw, dockerd] = await Promise.all([startRgw(), startDockerd()]);
    cleanups.push(() => dockerd.stop(), () => rgw.stop());
    const proxy: CountingProxy = await startCountingProxy(rgw.endpoint);
    cleanups.push(() => proxy.close());
    const reg: BerthOnS3 = await startBerthOnS3(rgw, { redirect: false, endpoint: proxy.url });
    cleanups.push(() => reg.stop());
    const pid = reg.berth.proc.pid!;
    const docker = (...args: string[]) => dockerd.docker(args, 1_800_000);
    const ref = `${reg.host}/bench/large:v1`;

    t = Date.now();
    await docker('build', '--quiet', '--tag', ref, ctx);
    console.log(`docker build: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    await removeTree(ctx);

    proxy.requests.length = 0;
    let pushOut = '';
    const push = await sampleRss(pid, async () => {
      pushOut = await docker('push', ref);
    });
    const pushed = /v1: digest: (sha256:[0-9a-f]{64})/.exec(pushOut)?.[1];
    if (!pushed) throw new Error(`no digest in docker push output:\n${pushOut}`);
    const pushOps = countByOperation(proxy.requests);
    const manifest = JSON.parse(await (await fetch(`${reg.url}/v2/bench/large/manifests/v1`, { headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' } })).text()) as {
      layers: { digest: string; size: number }[];
    };
    const layer = manifest.layers[0];

    await docker('rmi', ref);
    proxy.requests.length = 0;
    let pullOut = '';
    const pull = await sampleRss(pid, async () => {
      pullOut = await docker('pull', ref);
    });
    if (!pullOut.includes(`Digest: ${pushed}`)) throw new Error(`docker pulled something else:\n${pullOut}`);
    const pullOps = countByOperation(proxy.requests);
    const size = (await docker('image', 'inspect', '--format', '{{.Size}}', ref)).trim();

    console.log(`layer ${layer.digest}, ${(layer.size / MiB).toFixed(1)} MiB compressed; image ${(Number(size) / MiB).toFixed(1)} MiB; manifest ${pushed}`);
    console.log(formatRss(`push (${(push.ms / 1000).toFixed(1)} s)`, push));
    console.log(`  S3 requests during push: ${JSON.stringify(pushOps)}`);
    console.log(formatRss(`pull (${(pull.ms / 1000).toFixed(1)} s)`, pull));
    console.log(`  S3 requests during pull: ${JSON.stringify(pullOps)}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: Error) => console.error(`cleanup: ${e.message}`));
  }
}

runMain(main);
