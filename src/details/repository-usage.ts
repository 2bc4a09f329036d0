import { LRUCache } from 'lru-cache';
import type { StorageDriver } from '../../storage-drivers/types';
import { mapBounded } from '../oci/bounded';
import { parseDigest } from '../oci/digest';
import { DomainError } from '../oci/errors';
import { Marker } from '../oci/gc-mark';
import { fileSize } from '../oci/links';
import type { Listing } from '../oci/listing';
import { paths } from '../oci/paths';

/** One repository's storage: what its manifests reach, each blob once. */
export interface RepositoryUsage {
  name: string;
  /** Bytes of every blob and manifest its manifests reach (shared ones included), each once. */
  bytes: number;
  blobs: number;
  computedAt: string;
}

/** Blob sizes asked at once (one HEAD each on S3). */
const STAT_WINDOW = 16;
const CACHE_SIZE = 10_000;

/**
 * Per repository, the collector's mark of its manifests (every revision a root, as the storage view
 * counts) and a stat of each blob it reaches. Costs what one repository holds, not the registry: a
 * user who may pull a repository may learn its size, and nothing of the others'. Exclusive bytes
 * (what no other repository shares) need every repository's mark: the storage view has them.
 */
export class RepositoryUsages {
  private readonly cache: LRUCache<string, Promise<RepositoryUsage>>;

  constructor(
    private readonly driver: StorageDriver,
    private readonly listing: Listing,
    maxAgeMs = 30_000,
  ) {
    this.cache = new LRUCache({ max: CACHE_SIZE, ttl: maxAgeMs, ttlResolution: 0 });
  }

  get(name: string): Promise<RepositoryUsage> {
    let usage = this.cache.get(name);
    if (!usage) {
      const computing = this.compute(name);
      usage = computing;
      // A failed computation is not kept: the next ask tries again.
      computing.catch(() => {
        if (this.cache.get(name) === computing) this.cache.delete(name);
      });
      this.cache.set(name, computing);
    }
    return usage;
  }

  private async compute(name: string): Promise<RepositoryUsage> {
    if (!(await this.listing.repositoryExists(name))) throw new DomainError('name-unknown', { name });
    const marked = new Set<string>();
    await new Marker(this.driver).repository(name, marked, false, Date.now());
    // A child manifest or a subject is marked by digest too; only digests with data count, once each.
    const sizes = await mapBounded([...marked], STAT_WINDOW, (d) => fileSize(this.driver, paths.blobData(parseDigest(d))));
    let bytes = 0;
    let blobs = 0;
    for (const size of sizes) {
      if (size === null) continue;
      bytes += size;
      blobs++;
    }
    return { name, bytes, blobs, computedAt: new Date().toISOString() };
  }
}
