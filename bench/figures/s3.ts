/**
 * The `s3` group: both registries on buckets of one real Ceph RGW started by the bench, each server's
 * S3 requests passing through a counting proxy. Large-blob rates, manifest rates, and how many S3
 * requests a push and a pull cost (requests are what S3 bills).
 */
import { startRedis } from '../../test/helpers/redis-server';
import { startRgw, type Rgw } from '../../test/helpers/rgw';
import { destroyBucket, s3Client } from '../../test/s3/berth-on-s3';
import { countByOperation, startCountingProxy, type CountingProxy, type ProxiedRequest } from '../../test/s3/counting-proxy';
import { pseudoRandom, type BlobCache } from '../blob-data';
import type { Cleanup } from '../cleanup';
import { expectStatus, HttpClient } from '../http-client';
import { measureRate } from '../measure-rate';
import { MANIFEST_ACCEPT, manifestBytes, pullBlob, pushBytes, pushMonolithic, pushStreamed, putManifest, seedImage, sha256 } from '../oci';
import { requestBytes } from '../raw-client';
import { startServer } from '../servers';
import { mbPerSec, sizeLabel } from '../stats';
import type { FigureContext, RegistryKind } from '../types';
import { warmUpLargeBlobs } from '../warm-up';
import { timedWork } from './large-blobs';
import { manifestPuts } from './writes';

export interface S3Backend {
  rgw: Rgw;
  /** Between the server under test and RGW; only that server uses it. */
  proxy: CountingProxy;
  stop(): Promise<void>;
}

export async function startS3Backend(note: (line: string) => void): Promise<S3Backend> {
  const rgw = await startRgw();
  const proxy = await startCountingProxy(rgw.endpoint).catch(async (err: unknown) => {
    await rgw.stop();
    throw err;
  });
  note(`s3: Ceph RGW (memstore) started in ${(rgw.startMs / 1000).toFixed(1)} s; each registry gets a fresh bucket and reaches RGW through a counting proxy`);
  return {
    rgw,
    proxy,
    async stop() {
      await proxy.close();
      await rgw.stop();
    },
  };
}

/** Lets requests a server makes just after answering (background work) land in the count. */
const SETTLE_MS = 300;

/** Runs `work` and returns the S3 requests the server sent meanwhile. */
async function counted<T>(proxy: CountingProxy, work: () => Promise<T>): Promise<{ result: T; requests: ProxiedRequest[] }> {
  proxy.requests.length = 0;
  const result = await work();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return { result, requests: proxy.requests.splice(0) };
}

function emitCount(ctx: FigureContext, name: string, requests: ProxiedRequest[], per = 1): void {
  ctx.emit({ name, value: requests.length / per, unit: per === 1 ? 'requests' : 'requests/op', better: 'lower' });
  ctx.note(`${name}: ${requests.length} S3 requests${per === 1 ? '' : ` for ${per} operations`} ${JSON.stringify(countByOperation(requests))}`);
}

/** Monolithic and streamed pushes of the large blob, and one pull of it: rates and S3 requests. */
async function largeBlobs(ctx: FigureContext, proxy: CountingProxy, blobs: BlobCache): Promise<void> {
  const { cfg } = ctx;
  const L = sizeLabel(cfg.largeBlob);
  const client = new HttpClient(ctx.target.base, 2);
  try {
    await warmUpLargeBlobs(client, blobs);
    const mono = blobs.get('s3-mono-large', cfg.largeBlob);
    const push = await counted(proxy, () => timedWork(ctx, 'push mono large', () => pushMonolithic(client, 'large/mono', mono)));
    ctx.emit({ name: `push-mono-${L}`, value: mbPerSec(mono.size, push.result), unit: 'MB/s', better: 'higher' });
    emitCount(ctx, `requests-push-mono-${L}`, push.requests);

    const streamed = blobs.get('s3-streamed-large', cfg.largeBlob);
    const stream = await counted(proxy, () => timedWork(ctx, 'push streamed large', () => pushStreamed(client, 'large/streamed', streamed)));
    ctx.emit({ name: `push-streamed-${L}`, value: mbPerSec(streamed.size, stream.result), unit: 'MB/s', better: 'higher' });
    emitCount(ctx, `requests-push-streamed-${L}`, stream.requests);

    const pull = await counted(proxy, () =>
      timedWork(ctx, 'pull c1', async () => {
        const n = await pullBlob(client, 'large/mono', mono.digest);
        if (n !== mono.size) throw new Error(`pull returned ${n} bytes, expected ${mono.size}`);
      }),
    );
    ctx.emit({ name: `pull-${L}-c1`, value: mbPerSec(mono.size, pull.result), unit: 'MB/s', better: 'higher' });
    emitCount(ctx, `requests-pull-${L}`, pull.requests);
  } finally {
    client.close();
  }
}

const MANIFEST_GET_CONCURRENCIES = [1, 16, 64];
/** Sequential operations whose S3 requests are counted, for a per-operation figure. */
const COUNTED_OPS = 20;

/** Manifest PUT and GET-by-tag rates, and the S3 requests each costs. */
async function manifests(ctx: FigureContext, proxy: CountingProxy): Promise<void> {
  await manifestPuts(ctx);
  const client = new HttpClient(ctx.target.base, 2);
  try {
    const repo = 'rates/app';
    const image = await seedImage(client, repo, 'latest', pseudoRandom(2048, 7));
    const req = requestBytes('GET', `/v2/${repo}/manifests/latest`, ctx.target.host, { Accept: MANIFEST_ACCEPT });
    for (const c of MANIFEST_GET_CONCURRENCIES) await measureRate(ctx, `manifest-get-tag-c${c}`, { concurrency: c, head: false, expectStatus: 200, request: () => req });

    const puts = await counted(proxy, async () => {
      for (let i = 0; i < COUNTED_OPS; i++) await putManifest(client, repo, `counted-${i}`, manifestBytes(image.config, [image.layer], `counted-${i}`));
    });
    emitCount(ctx, 'requests-per-manifest-put', puts.requests, COUNTED_OPS);
    const gets = await counted(proxy, async () => {
      for (let i = 0; i < COUNTED_OPS; i++) expectStatus('GET manifest', await client.send('GET', `/v2/${repo}/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } }), 200);
    });
    emitCount(ctx, 'requests-per-manifest-get-tag', gets.requests, COUNTED_OPS);
  } finally {
    client.close();
  }
}

/** A config of its own: the other figures' config is already in the bucket, which a new image's is not. */
const IMAGE_CONFIG = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, comment: 'bench s3 image' }));

/**
 * Docker's sequence for an image of `pushLayers` layers: per blob a HEAD (absent), then POST, one
 * streamed PATCH and PUT (the config: POST and PUT with the body), then the manifest; the pull GETs the
 * manifest by tag, the config and every layer.
 */
async function imageRequests(ctx: FigureContext, proxy: CountingProxy, blobs: BlobCache): Promise<void> {
  const { cfg } = ctx;
  const repo = 's3/image';
  const client = new HttpClient(ctx.target.base, 2);
  const label = `${cfg.pushLayers}x${sizeLabel(cfg.pushLayerSize)}`;
  try {
    const layers = Array.from({ length: cfg.pushLayers }, (_, i) => blobs.get(`s3-image-layer-${i}`, cfg.pushLayerSize));
    const absent = async (digest: string) => expectStatus(`HEAD blob ${digest}`, await client.send('HEAD', `/v2/${repo}/blobs/${digest}`), 404);
    const push = await counted(proxy, async () => {
      for (const layer of layers) {
        await absent(layer.digest);
        await pushStreamed(client, repo, layer);
      }
      await absent(sha256(IMAGE_CONFIG));
      const config = await pushBytes(client, repo, IMAGE_CONFIG);
      await putManifest(client, repo, 'v1', manifestBytes(config, layers));
    });
    emitCount(ctx, `requests-push-image-${label}`, push.requests);
    const pull = await counted(proxy, async () => {
      const reply = expectStatus('GET manifest v1', await client.send('GET', `/v2/${repo}/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } }), 200);
      const manifest = JSON.parse(reply.body.toString('utf8')) as { config: { digest: string }; layers: { digest: string; size: number }[] };
      expectStatus('GET config', await client.send('GET', `/v2/${repo}/blobs/${manifest.config.digest}`), 200);
      for (const layer of manifest.layers) {
        const n = await pullBlob(client, repo, layer.digest);
        if (n !== layer.size) throw new Error(`layer pull returned ${n} bytes, expected ${layer.size}`);
      }
    });
    emitCount(ctx, `requests-pull-image-${label}`, pull.requests);
  } finally {
    client.close();
  }
}

let buckets = 0;

/**
 * The passes of the group, each on a fresh bucket: as the bench has always run them, then again
 * with Berth's shared cache (Redis) as replicas on S3 would run it, beside Distribution as it ships
 * (its descriptor cache in process). The second pass leaves out the large blobs, which no cache
 * touches.
 */
const PASSES = [
  { prefix: 's3-', redis: false },
  { prefix: 's3-redis-', redis: true },
] as const;

/**
 * Starts `kind` on a fresh bucket for each pass, runs the group's figures (names prefixed as the
 * pass says), stops it and deletes the bucket: RGW's memstore holds everything in RAM.
 */
export async function s3Figures(ctx: Omit<FigureContext, 'target'>, kind: RegistryKind, backend: S3Backend, repoRoot: string, cleanup: Cleanup, blobs: BlobCache): Promise<void> {
  for (const pass of PASSES) {
    // A fresh Redis per pass: what one bucket's repositories cached must not answer for another's.
    const redis = pass.redis && kind === 'berth' ? await startRedis() : null;
    try {
      await s3Pass(ctx, kind, backend, repoRoot, cleanup, blobs, pass.prefix, redis?.addr);
    } finally {
      await redis?.stop();
    }
  }
}

async function s3Pass(
  ctx: Omit<FigureContext, 'target'>,
  kind: RegistryKind,
  backend: S3Backend,
  repoRoot: string,
  cleanup: Cleanup,
  blobs: BlobCache,
  prefix: string,
  redisAddr: string | undefined,
): Promise<void> {
  const { rgw, proxy } = backend;
  const bucket = `bench-${kind}-${++buckets}-${Date.now() % 100_000}`;
  await rgw.createBucket(bucket);
  const admin = s3Client(rgw);
  const large = prefix === PASSES[0].prefix;
  try {
    const s3 = { endpoint: proxy.url, accessKey: rgw.accessKey, secretKey: rgw.secretKey, region: rgw.region, bucket };
    const server = await startServer(kind, repoRoot, cleanup, { cpuProfDir: ctx.cfg.cpuProfDir, shared: true, notifications: '', s3, redisAddr });
    try {
      const sctx: FigureContext = {
        target: server.target,
        cfg: ctx.cfg,
        emit: (f) => ctx.emit({ ...f, name: `${prefix}${f.name}` }),
        note: (line) => ctx.note(`${prefix.slice(0, -1)} ${line}`),
      };
      const idle = await counted(proxy, () => new Promise((r) => setTimeout(r, 1000)));
      if (idle.requests.length > 0) sctx.note(`idle for 1 s: ${idle.requests.length} S3 requests ${JSON.stringify(countByOperation(idle.requests))}`);
      if (large) await largeBlobs(sctx, proxy, blobs);
      await manifests(sctx, proxy);
      await imageRequests(sctx, proxy, blobs);
    } finally {
      await server.stop();
    }
  } finally {
    await destroyBucket(admin, bucket).catch((err: unknown) => ctx.note(`s3: could not delete bucket ${bucket}: ${(err as Error).message}`));
    admin.destroy();
  }
}
