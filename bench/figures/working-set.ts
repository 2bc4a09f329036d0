import { pseudoRandom } from '../blob-data';
import { closedLoop } from '../closed-loop';
import { HttpClient } from '../http-client';
import { CONFIG_BYTES, type Descriptor, manifestBytes, OCI_MANIFEST, pushBytes, sha256 } from '../oci';
import { requestBytes, runRawLoad } from '../raw-client';
import type { BenchConfig, FigureContext } from '../types';

const REPOS = 4;
/** Layers per manifest: about 4 KB a manifest, so 10,000 of them (41 MB) outgrow Berth's 32 MiB body cache. */
const LAYERS_PER_MANIFEST = 24;
export const WORKING_SET_BLOB_SIZE = 2048;
const SEED_CONCURRENCY = 16;

export interface ManifestEntry {
  repo: string;
  tag: string;
  digest: string;
  body: Buffer;
}

export interface BlobEntry {
  repo: string;
  digest: string;
}

/** What the reads ask for: many manifests under distinct tags in a few repositories, and small blobs. */
export interface WorkingSet {
  manifests: ManifestEntry[];
  blobs: BlobEntry[];
  /** Total bytes of the manifest bodies. */
  manifestBytes: number;
}

function repoName(r: number): string {
  return `zipf/app${r}`;
}

/**
 * The same set for both registries (the digests follow from the content): per repository one config
 * and a pool of distinct 2 KiB layers; manifest j of a repository lists a window of that pool and an
 * annotation that makes it unique.
 */
export function workingSet(cfg: BenchConfig): WorkingSet {
  const perRepo = Math.ceil(cfg.workingSetBlobs / REPOS);
  const config: Descriptor = { digest: sha256(CONFIG_BYTES), size: CONFIG_BYTES.length };
  const pools: Descriptor[][] = [];
  const blobs: BlobEntry[] = [];
  for (let r = 0; r < REPOS; r++) {
    const pool: Descriptor[] = [];
    for (let l = 0; l < perRepo; l++) {
      const digest = sha256(pseudoRandom(WORKING_SET_BLOB_SIZE, blobSeed(r, l)));
      pool.push({ digest, size: WORKING_SET_BLOB_SIZE });
      blobs.push({ repo: repoName(r), digest });
    }
    pools.push(pool);
  }
  const manifests: ManifestEntry[] = [];
  let total = 0;
  for (let i = 0; i < cfg.workingSetManifests; i++) {
    const r = i % REPOS;
    const j = Math.floor(i / REPOS);
    const pool = pools[r];
    const layers = Array.from({ length: Math.min(LAYERS_PER_MANIFEST, pool.length) }, (_, k) => pool[(j * 7 + k) % pool.length]);
    const body = manifestBytes(config, layers, `working-set-${i}`);
    total += body.length;
    manifests.push({ repo: repoName(r), tag: `v${j}`, digest: sha256(body), body });
  }
  return { manifests, blobs, manifestBytes: total };
}

function blobSeed(repo: number, layer: number): number {
  return 0x2b00_0000 + repo * 0x10000 + layer;
}

/**
 * Pushes the set as fast as the registry takes it: the blobs through POST + PUT, 16 at a time, then
 * every manifest by a direct PUT under its tag from 16 keep-alive connections.
 */
export async function seedWorkingSet(ctx: FigureContext, set: WorkingSet): Promise<void> {
  const { target, cfg } = ctx;
  const t0 = performance.now();
  const client = new HttpClient(target.base, SEED_CONCURRENCY);
  try {
    for (let r = 0; r < REPOS; r++) await pushBytes(client, repoName(r), CONFIG_BYTES);
    const perRepo = Math.ceil(cfg.workingSetBlobs / REPOS);
    await closedLoop(SEED_CONCURRENCY, set.blobs.length, 3_600_000, async (i) => {
      const r = Math.floor(i / perRepo);
      await pushBytes(client, repoName(r), pseudoRandom(WORKING_SET_BLOB_SIZE, blobSeed(r, i % perRepo)), set.blobs[i].digest);
    });
  } finally {
    client.close();
  }
  const blobsDone = performance.now();
  const requests = set.manifests.map((m) => requestBytes('PUT', `/v2/${m.repo}/manifests/${m.tag}`, target.host, { 'Content-Type': OCI_MANIFEST }, m.body));
  const r = await runRawLoad({
    host: '127.0.0.1',
    port: target.port,
    concurrency: SEED_CONCURRENCY,
    request: (i) => requests[i],
    head: false,
    expectStatus: 201,
    warmupMs: 0,
    durationMs: 3_600_000,
    maxRequests: requests.length,
  });
  if (r.errors > 0 || r.requests !== requests.length) {
    throw new Error(`seeding the working set: ${r.requests} of ${requests.length} manifests stored, ${r.errors} errors, first: ${r.firstError?.slice(0, 300)}`);
  }
  const done = performance.now();
  ctx.note(
    `working set: ${set.manifests.length} manifests (${(set.manifestBytes / 1e6).toFixed(1)} MB of bodies) under ${set.manifests.length} tags in ${REPOS} repositories, ` +
      `${set.blobs.length} blobs of ${WORKING_SET_BLOB_SIZE} bytes; seeded in ${((blobsDone - t0) / 1000).toFixed(1)} s (blobs) + ${((done - blobsDone) / 1000).toFixed(1)} s (manifests)`,
  );
}
