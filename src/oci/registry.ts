import type { StorageDriver } from '../../storage-drivers/types';
import { BlobStore } from './blobs';
import { UploadManager } from './uploads';
import { UploadStateSigner } from './upload-state';
import { ManifestStore } from './manifests';
import { ReferrerIndex } from './referrers';
import { Listing } from './listing';
import { ReadCache, type ReadCacheOptions } from './read-cache';
import { GcFence } from './gc-fence';

/** The registry's protocol logic over one storage driver; the only code that knows the layout. */
export interface Registry {
  blobs: BlobStore;
  uploads: UploadManager;
  manifests: ManifestStore;
  referrers: ReferrerIndex;
  listing: Listing;
  cache: ReadCache;
}

export interface RegistryOptions {
  secret: string | Buffer;
  onUploadBytes?: (n: number) => void;
  /** What reads may reuse; without it every read goes to storage. */
  cache?: ReadCacheOptions;
  /** storage.maintenance.readonly: reads must not write either (the referrer index stays in memory). */
  readOnly?: boolean;
}

export function createRegistry(driver: StorageDriver, opts: RegistryOptions): Registry {
  const cache = new ReadCache(opts.cache ?? { ttlMs: 0 });
  // A collection may delete behind the cache's back: answers it holds about what exists are dropped
  // whenever a sweep is seen.
  const fence = new GcFence(driver, { onSweep: () => cache.forgetMutable() });
  const blobs = new BlobStore(driver, cache, fence);
  // The referrer index reads manifests through the store, which is created just after it.
  const referrers = new ReferrerIndex(driver, (d): Promise<Buffer> => manifests.readBytes(d), opts.readOnly);
  const manifests = new ManifestStore(driver, blobs, referrers, cache, fence);
  return {
    blobs,
    uploads: new UploadManager(driver, blobs, new UploadStateSigner(opts.secret), opts.onUploadBytes),
    manifests,
    referrers,
    listing: new Listing(driver, cache),
    cache,
  };
}
