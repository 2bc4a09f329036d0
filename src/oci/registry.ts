import type { StorageDriver } from '../../storage-drivers/types';
import { BlobStore } from './blobs';
import { UploadManager } from './uploads';
import { UploadStateSigner } from './upload-state';
import { HashStateStore } from './hash-state';
import { Sha256Worker } from './remote-sha256';
import { ManifestStore } from './manifests';
import { ReferrerIndex } from './referrers';
import { Listing } from './listing';
import { ReadCache, type ReadCacheOptions } from './read-cache';
import { GcFence } from './gc-fence';
import type { SessionExclusion } from './session-exclusion';
import { ImageSummaries } from '../details/image-summary';
import { TagDetails } from '../details/tag-details';
import { RepositoryUsages } from '../details/repository-usage';

/** The registry's protocol logic over one storage driver; the only code that knows the layout. */
export interface Registry {
  blobs: BlobStore;
  uploads: UploadManager;
  manifests: ManifestStore;
  referrers: ReferrerIndex;
  listing: Listing;
  cache: ReadCache;
  /** What the web UI lists beyond the protocol: tags with their details, a repository's bytes (src/details). */
  details: { tags: TagDetails; usage: RepositoryUsages };
}

export interface RegistryOptions {
  secret: string | Buffer;
  onUploadBytes?: (n: number) => void;
  /** What reads may reuse; without it every read goes to storage. */
  cache?: ReadCacheOptions;
  /** storage.maintenance.readonly: reads must not write either (the referrer index stays in memory). */
  readOnly?: boolean;
  /** Save each upload's resumable sha256 after every PATCH (storage.uploads.hashstate). */
  saveHashStates?: boolean;
  /** Uploads shorter than this save no state (storage.uploads.hashstateminsize; default 0). */
  hashStateMinBytes?: number;
  /** The thread that computes it; default: one per process, shared by its registries. */
  sha256Worker?: Sha256Worker;
  /** How requests on one upload session exclude each other (session-exclusion.ts); none without. */
  uploadSessions?: SessionExclusion;
  /** The collection's quiet period to promise on a store never swept (storage.maintenance.gc.quietperiod). */
  quietMs?: number;
}

export function createRegistry(driver: StorageDriver, opts: RegistryOptions): Registry {
  const cache = new ReadCache(opts.cache ?? { ttlMs: 0 });
  // A collection may delete behind the cache's back: answers it holds about what exists are dropped
  // whenever a sweep is seen.
  const fence = new GcFence(driver, { onSweep: () => cache.forgetMutable(), quietMs: opts.quietMs });
  const blobs = new BlobStore(driver, cache, fence);
  // The referrer index reads manifests through the store, which is created just after it.
  const referrers = new ReferrerIndex(driver, (d): Promise<Buffer> => manifests.readBytes(d), opts.readOnly);
  const manifests = new ManifestStore(driver, blobs, referrers, cache, fence);
  const listing = new Listing(driver, cache);
  return {
    blobs,
    uploads: uploadManager(driver, blobs, opts),
    manifests,
    referrers,
    listing,
    cache,
    details: { tags: new TagDetails(driver, listing, manifests, new ImageSummaries(manifests, blobs)), usage: new RepositoryUsages(driver, listing) },
  };
}

/** One thread per process hashes for every registry in it; it starts at the first upload that needs it. */
const sha256Worker = new Sha256Worker();

function uploadManager(driver: StorageDriver, blobs: BlobStore, opts: RegistryOptions): UploadManager {
  const signer = new UploadStateSigner(opts.secret);
  const resumable = opts.saveHashStates ? { states: new HashStateStore(driver, signer), worker: opts.sha256Worker ?? sha256Worker, minBytes: opts.hashStateMinBytes ?? 0 } : undefined;
  return new UploadManager(driver, blobs, signer, opts.onUploadBytes, resumable, opts.uploadSessions);
}
