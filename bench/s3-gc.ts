/**
 * Where a collection's time goes on S3: a store of 12 repositories and 134 manifests (the size of
 * the report in the "Trust on S3" issue) is written straight into a bucket of a real RGW started
 * here, then collections (dry runs, with and without --delete-untagged) run through a counting proxy.
 * Prints requests by operation, per repository and per manifest, the seconds, and a hash of each
 * report so that runs before and after a change can be compared. Run by hand after a build:
 *
 *   node dist/bench/s3-gc.js [repositories, default 12] [manifests, default 134]
 */
import { createHash } from 'node:crypto';
import { createS3Driver } from '../storage-drivers/s3';
import type { StorageDriver } from '../storage-drivers/types';
import { GarbageCollector, type GcOptions } from '../src/oci/gc';
import { Listing } from '../src/oci/listing';
import { parseDigest, type Digest } from '../src/oci/digest';
import { paths } from '../src/oci/paths';
import { writeLink } from '../src/oci/links';
import { mapBounded } from '../src/oci/bounded';
import { startRgw, type Rgw } from '../test/helpers/rgw';
import { countByOperation, startCountingProxy } from '../test/s3/counting-proxy';
import { destroyBucket, s3Client } from '../test/s3/berth-on-s3';
import { runMain } from './run-main';

const LAYERS_PER_MANIFEST = 3;

let seq = 0;
/** The same content on every run, so that reports compare across runs and builds. */
function bytes(size: number): Buffer {
  const seed = createHash('sha256').update(`berth-bench-gc-${seq++}`).digest();
  return Buffer.concat(Array.from({ length: Math.ceil(size / seed.length) }, () => seed)).subarray(0, size);
}

function digestOf(data: Buffer): Digest {
  return parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
}

function driverFor(rgw: Rgw, bucket: string, endpoint = rgw.endpoint): StorageDriver {
  return createS3Driver({ bucket, region: rgw.region, regionendpoint: endpoint, forcepathstyle: true, accesskey: rgw.accessKey, secretkey: rgw.secretKey });
}

/** Distribution's layout: per repository a few layers shared by its manifests, a base layer shared by all; a third of the manifests untagged; some orphan blobs. */
async function populate(driver: StorageDriver, repoCount: number, manifestCount: number): Promise<void> {
  const writes: Array<() => Promise<void>> = [];
  const blob = (data: Buffer) => {
    const d = digestOf(data);
    writes.push(() => driver.putContent(paths.blobData(d), data));
    return d;
  };
  const base = blob(bytes(4096));
  for (let r = 0; r < repoCount; r++) {
    const name = `bench/repo-${String(r).padStart(2, '0')}`;
    const own = Array.from({ length: 6 }, () => blob(bytes(2048)));
    const count = Math.floor(manifestCount / repoCount) + (r < manifestCount % repoCount ? 1 : 0);
    for (let m = 0; m < count; m++) {
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', n: `${r}-${m}` }));
      const configDigest = blob(config);
      const layers = [base, ...Array.from({ length: LAYERS_PER_MANIFEST - 1 }, (_, i) => own[(m + i) % own.length])];
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest.value, size: config.length },
          layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.value, size: 2048 })),
        }),
      );
      const md = blob(manifest);
      for (const d of [configDigest, ...layers]) writes.push(() => writeLink(driver, paths.layerLink(name, d), d));
      writes.push(() => writeLink(driver, paths.revisionLink(name, md), md));
      if (m % 3 !== 2) {
        writes.push(() => writeLink(driver, paths.tagCurrentLink(name, `t${m}`), md));
        writes.push(() => writeLink(driver, paths.tagIndexLink(name, `t${m}`, md), md));
      }
    }
  }
  for (let i = 0; i < 10; i++) blob(bytes(1024));
  await mapBounded(writes, 32, (w) => w());
}

function reportHash(report: unknown): string {
  return createHash('sha256').update(JSON.stringify(report)).digest('hex').slice(0, 16);
}

async function main(): Promise<void> {
  const repoCount = Number(process.argv[2] ?? 12);
  const manifestCount = Number(process.argv[3] ?? 134);
  const rgw = await startRgw();
  const bucket = `berth-bench-gc-${process.pid}`;
  const proxy = await startCountingProxy(rgw.endpoint);
  const client = s3Client(rgw);
  try {
    await rgw.createBucket(bucket);
    let t = Date.now();
    await populate(driverFor(rgw, bucket), repoCount, manifestCount);
    console.log(`wrote ${repoCount} repositories, ${manifestCount} manifests in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    // Past the grace, so that the dry runs have candidates to report.
    await new Promise((r) => setTimeout(r, 2_500));
    const driver = driverFor(rgw, bucket, proxy.url);
    const runs: Array<Omit<GcOptions, 'dryRun'>> = [
      { grace: 1_000, deleteUntagged: false },
      { grace: 1_000, deleteUntagged: true },
    ];
    for (const opts of runs) {
      proxy.requests.length = 0;
      t = Date.now();
      const report = await new GarbageCollector(driver, new Listing(driver)).collect({ ...opts, dryRun: true });
      const s = (Date.now() - t) / 1000;
      const n = proxy.requests.length;
      console.log(
        `gc --dry-run${opts.deleteUntagged ? ' --delete-untagged' : ''}: ${report.repositories} repositories, ${report.manifestsMarked} manifests marked, ` +
          `${report.blobs.length} blobs / ${report.manifests.length} manifests to delete; ${n} S3 requests ${JSON.stringify(countByOperation(proxy.requests))}; ` +
          `${s.toFixed(2)} s; per repository ${(n / report.repositories).toFixed(1)} requests, ${(s / report.repositories).toFixed(3)} s; ` +
          `per manifest ${(n / manifestCount).toFixed(1)} requests; report ${reportHash(report)}`,
      );
    }
  } finally {
    await destroyBucket(client, bucket).catch((e: Error) => console.error(`cleanup: ${e.message}`));
    client.destroy();
    await proxy.close();
    await rgw.stop();
  }
}

runMain(main);
