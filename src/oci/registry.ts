import type { StorageDriver } from '../../storage-drivers/types';
import { BlobStore } from './blobs';
import { UploadManager } from './uploads';
import { UploadStateSigner } from './upload-state';
import { ManifestStore } from './manifests';
import { ReferrerIndex } from './referrers';
import { Listing } from './listing';

/** The registry's protocol logic over one storage driver; the only code that knows the layout. */
export interface Registry {
  blobs: BlobStore;
  uploads: UploadManager;
  manifests: ManifestStore;
  referrers: ReferrerIndex;
  listing: Listing;
}

export function createRegistry(driver: StorageDriver, opts: { secret: string | Buffer; onUploadBytes?: (n: number) => void }): Registry {
  const blobs = new BlobStore(driver);
  // The referrer index reads manifests through the store, which is created just after it.
  let manifests: ManifestStore | undefined;
  const referrers = new ReferrerIndex(driver, (d) => manifests!.readBytes(d));
  manifests = new ManifestStore(driver, blobs, referrers);
  return {
    blobs,
    uploads: new UploadManager(driver, blobs, new UploadStateSigner(opts.secret), opts.onUploadBytes),
    manifests,
    referrers,
    listing: new Listing(driver),
  };
}
