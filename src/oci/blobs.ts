import type { Readable } from 'node:stream';
import type { StorageDriver } from '../../storage-drivers/types';
import { OciError } from './errors';
import type { Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, exists, sizeOf, writeLink } from './links';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Blobs are stored once, globally, by digest; a repository sees a blob only through a link
 * (`_layers/…/link` for layers and configs, `_manifests/revisions/…/link` for manifests).
 */
export class BlobStore {
  constructor(private readonly driver: StorageDriver) {}

  /** Size of a blob visible in the repository; BLOB_UNKNOWN otherwise. */
  async stat(name: string, d: Digest): Promise<number> {
    const [layer, revision] = await Promise.all([
      exists(this.driver, paths.layerLink(name, d)),
      exists(this.driver, paths.revisionLink(name, d)),
    ]);
    if (!layer && !revision) throw new OciError('BLOB_UNKNOWN', { digest: d.value });
    const size = await sizeOf(this.driver, paths.blobData(d));
    if (size === null) throw new OciError('BLOB_UNKNOWN', { digest: d.value });
    return size;
  }

  /** Whether the blob's data exists anywhere in the registry (for automatic mounts and commits). */
  async globalSize(d: Digest): Promise<number | null> {
    return sizeOf(this.driver, paths.blobData(d));
  }

  async isLinked(name: string, d: Digest): Promise<boolean> {
    return exists(this.driver, paths.layerLink(name, d));
  }

  open(d: Digest, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.driver.reader(paths.blobData(d), range ? { offset: range.start, length: range.end - range.start + 1, signal } : { signal });
  }

  redirectUrl(d: Digest, method: 'GET' | 'HEAD'): Promise<string | null> {
    return this.driver.redirectUrl(paths.blobData(d), { method, expiresIn: 1200 });
  }

  link(name: string, d: Digest): Promise<void> {
    return writeLink(this.driver, paths.layerLink(name, d), d);
  }

  /** Cross-repository mount: link a blob of `from` (or of any repository when from is undefined). */
  async mount(name: string, d: Digest, from: string | undefined): Promise<boolean> {
    if (from !== undefined && !(await this.isLinked(from, d))) return false;
    if ((await this.globalSize(d)) === null) return false;
    await this.link(name, d);
    return true;
  }

  /** Removes the repository's link; the data stays until garbage collection. */
  async unlink(name: string, d: Digest): Promise<void> {
    if (!(await deleteIfExists(this.driver, paths.layerLinkDir(name, d))))
      throw new OciError('BLOB_UNKNOWN', { digest: d.value });
  }
}
