import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { mapBounded } from '../oci/bounded';
import { Marker } from '../oci/gc-mark';
import type { Listing } from '../oci/listing';
import { paths } from '../oci/paths';

const DIGEST_DATA = /\/blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/;
/** Repositories marked at once, as a collection does. */
const REPOSITORY_WINDOW = 4;

export interface RepositoryStorage {
  name: string;
  /** Bytes of every blob and manifest its manifests reach, shared ones included. */
  bytes: number;
  /** Of those, the bytes no other repository reaches: what deleting it (and collecting) frees. */
  exclusiveBytes: number;
  blobs: number;
}

export interface StorageView {
  /** Bytes of all blob data stored (each blob once). */
  storedBytes: number;
  /** Bytes the repositories reach, shared blobs counted once. */
  referencedBytes: number;
  /** The repositories' bytes summed as if each held its own copy, less referencedBytes. */
  savedBySharing: number;
  /** Blob data no manifest reaches: what the next garbage collection reclaims (any mode). */
  unreferencedBytes: number;
  unreferencedBlobs: number;
  /** Biggest first. */
  repositories: RepositoryStorage[];
  computedAt: string;
  durationMs: number;
}

/** How far a storage view is: for `berth insight --storage --store` on a terminal. */
export interface StorageViewProgress {
  blobsWalked: number;
  bytesWalked: number;
  repositories: number;
  repositoriesMarked: number;
}

/**
 * Where the registry's bytes go (docs/architecture.md, "Image insight: the storage view"): the
 * collector's mark (every manifest revision a root) per repository, folded into one count per blob
 * so that memory is one entry per blob whatever the number of repositories, and a walk of the blob
 * data for sizes. As costly as a collection's mark: an operator's question, not a request path's.
 */
export async function storageView(driver: StorageDriver, listing: Listing, onProgress?: (p: StorageViewProgress) => void): Promise<StorageView> {
  const started = Date.now();
  const sizes = new Map<string, number>();
  const progress: StorageViewProgress = { blobsWalked: 0, bytesWalked: 0, repositories: 0, repositoriesMarked: 0 };
  const tell = onProgress === undefined ? () => undefined : () => onProgress(progress);
  try {
    for await (const info of driver.walk(paths.blobsRoot)) {
      const m = info.isDir ? null : DIGEST_DATA.exec(info.path);
      if (!m) continue;
      sizes.set(`${m[1]}:${m[2]}`, info.size);
      progress.blobsWalked++;
      progress.bytesWalked += info.size;
      tell();
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const names = (await listing.catalog(undefined, undefined)).items;
  progress.repositories = names.length;
  const marker = new Marker(driver);
  // Per blob: how many repositories reach it, and the first one (its owner while it is the only one).
  const reach = new Map<string, { count: number; owner: number }>();
  const repositories: RepositoryStorage[] = names.map((name) => ({ name, bytes: 0, exclusiveBytes: 0, blobs: 0 }));
  await mapBounded(names, REPOSITORY_WINDOW, async (name, index) => {
    const marked = new Set<string>();
    await marker.repository(name, marked, false, Date.now());
    progress.repositoriesMarked++;
    tell();
    const repo = repositories[index];
    for (const digest of marked) {
      const size = sizes.get(digest);
      if (size === undefined) continue; // a child manifest's or subject's digest, or missing data
      repo.bytes += size;
      repo.blobs++;
      const seen = reach.get(digest);
      if (seen) seen.count++;
      else reach.set(digest, { count: 1, owner: index });
    }
  });
  let referencedBytes = 0;
  for (const [digest, { count, owner }] of reach) {
    const size = sizes.get(digest)!;
    referencedBytes += size;
    if (count === 1) repositories[owner].exclusiveBytes += size;
  }
  let storedBytes = 0;
  let unreferencedBytes = 0;
  let unreferencedBlobs = 0;
  for (const [digest, size] of sizes) {
    storedBytes += size;
    if (!reach.has(digest)) {
      unreferencedBytes += size;
      unreferencedBlobs++;
    }
  }
  repositories.sort((a, b) => b.bytes - a.bytes || (a.name < b.name ? -1 : 1));
  return {
    storedBytes,
    referencedBytes,
    savedBySharing: repositories.reduce((n, r) => n + r.bytes, 0) - referencedBytes,
    unreferencedBytes,
    unreferencedBlobs,
    repositories,
    computedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
  };
}

/**
 * One view at a time, reused for `maxAgeMs`: operators asking together (a dashboard, the CLI) share
 * one computation instead of each running a mark over the whole store.
 */
export class StorageViews {
  private current?: { at: number; view: Promise<StorageView> };

  constructor(
    private readonly driver: StorageDriver,
    private readonly listing: Listing,
    private readonly maxAgeMs = 60_000,
  ) {}

  get(): Promise<StorageView> {
    if (this.current === undefined || Date.now() - this.current.at > this.maxAgeMs) {
      const view = storageView(this.driver, this.listing);
      const entry = { at: Date.now(), view };
      // A failed computation is not kept: the next ask tries again.
      view.catch(() => {
        if (this.current === entry) this.current = undefined;
      });
      this.current = entry;
    }
    return this.current.view;
  }
}
