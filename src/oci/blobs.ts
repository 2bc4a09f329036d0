import type { Readable } from 'node:stream';
import type { FileReadable, StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { DomainError } from './errors';
import type { Digest } from './digest';
import { paths } from './paths';
import { digestKey, ReadCache } from './read-cache';
import { deleteIfExists, fileSize, isFile, readLink, writeLink } from './links';
import { GcFence } from './gc-fence';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface BlobInfo {
  size: number;
  /** The digest the data is stored under (Distribution stores every blob by sha256). */
  canonical: Digest;
}

/**
 * Blobs are stored once, globally, by digest; a repository sees a blob only through a link
 * (`_layers/…/link` for layers and configs, `_manifests/revisions/…/link` for manifests). A link
 * holds the digest the data is stored under, which differs from the requested one for blobs pushed
 * by another digest algorithm: the data path always comes from the link's content, as in
 * Distribution.
 */
export class BlobStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: ReadCache = new ReadCache({ ttlMs: 0 }),
    private readonly fence: GcFence = new GcFence(driver),
  ) {}

  /** The blob as visible in the repository; BLOB_UNKNOWN otherwise. */
  async stat(name: string, d: Digest): Promise<BlobInfo> {
    return this.cache.layers.read(digestKey(name, d), () => (d.algorithm === 'sha256' ? this.statSha256(name, d) : this.statThroughLinks(name, d, true)));
  }

  /**
   * A sha256 layer link always names its own digest (Distribution stores every blob by sha256), so
   * its existence and the data's size can be asked at once, two stats instead of reading the link
   * first. Without a layer link the digest may still be a manifest's (its revision link).
   */
  private async statSha256(name: string, d: Digest): Promise<BlobInfo> {
    const [linked, size] = await Promise.all([isFile(this.driver, paths.layerLink(name, d)), fileSize(this.driver, paths.blobData(d))]);
    if (!linked) return this.statThroughLinks(name, d, false);
    if (size === null) throw new DomainError('blob-unknown', { digest: d.value });
    return { size, canonical: d };
  }

  private async statThroughLinks(name: string, d: Digest, readLayerLink: boolean): Promise<BlobInfo> {
    const canonical = (readLayerLink ? await readLink(this.driver, paths.layerLink(name, d)) : null) ?? (await readLink(this.driver, paths.revisionLink(name, d)));
    const size = canonical && (await fileSize(this.driver, paths.blobData(canonical)));
    if (!canonical || size === null) throw new DomainError('blob-unknown', { digest: d.value });
    return { size, canonical };
  }

  /**
   * The whole blob as visible in the repository, opened: for a sha256 digest the layer link is
   * checked while the data is opened, and the size comes with the data (two requests on S3, where
   * stat then open are three). BLOB_UNKNOWN as stat; anything else goes the way of stat then open.
   */
  async openWhole(name: string, d: Digest, signal?: AbortSignal): Promise<{ info: BlobInfo; stream: FileReadable }> {
    if (d.algorithm !== 'sha256') {
      const info = await this.stat(name, d);
      return { info, stream: await this.open(info.canonical, undefined, signal) };
    }
    // Through the cache's read, so that what was opened is cached only if no write raced it; on a
    // hit the load does not run, and the data is opened as after a stat.
    let opened: FileReadable | undefined;
    const info = await this.cache.layers.read(digestKey(name, d), async () => {
      const { info: loaded, stream } = await this.openLinked(name, d, signal);
      opened = stream;
      return loaded;
    });
    return { info, stream: opened ?? (await this.open(info.canonical, undefined, signal)) };
  }

  private async openLinked(name: string, d: Digest, signal?: AbortSignal): Promise<{ info: BlobInfo; stream: FileReadable }> {
    const [linked, opened] = await Promise.all([
      isFile(this.driver, paths.layerLink(name, d)),
      this.driver.reader(paths.blobData(d), { signal }).then(
        (stream) => ({ stream, err: undefined }),
        (err: unknown) => ({ stream: undefined, err }),
      ),
    ]);
    const { stream } = opened;
    try {
      // Without a layer link the digest may be a manifest's, whose revision link names its data.
      const canonical = linked ? d : await readLink(this.driver, paths.revisionLink(name, d));
      if (!canonical) throw new DomainError('blob-unknown', { digest: d.value });
      if (canonical.value !== d.value) {
        stream?.destroy();
        const info = await this.statThroughLinks(name, d, false);
        return { info, stream: await this.open(info.canonical, undefined, signal) };
      }
      if (!stream) throw isNotFound(opened.err) ? new DomainError('blob-unknown', { digest: d.value }) : opened.err;
      const size = stream.fileSize ?? (await this.globalSize(d));
      if (size === null) throw new DomainError('blob-unknown', { digest: d.value });
      return { info: { size, canonical: d }, stream };
    } catch (err) {
      stream?.destroy();
      throw err;
    }
  }

  /** Size of the data stored under this digest anywhere in the registry, or null. */
  async globalSize(d: Digest): Promise<number | null> {
    return fileSize(this.driver, paths.blobData(d));
  }

  open(canonical: Digest, range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    return this.driver.reader(
      paths.blobData(canonical),
      range ? { offset: range.start, length: range.end - range.start + 1, signal } : { signal },
    );
  }

  redirectUrl(canonical: Digest, method: 'GET' | 'HEAD'): Promise<string | null> {
    return this.driver.redirectUrl(paths.blobData(canonical), { method, expiresIn: 1200 });
  }

  /** Links `d` (stored as `canonical`) into the repository, and the canonical digest too when they differ. */
  async link(name: string, d: Digest, canonical: Digest = d): Promise<void> {
    if (canonical.value !== d.value) await writeLink(this.driver, paths.layerLink(name, canonical), canonical);
    await writeLink(this.driver, paths.layerLink(name, d), canonical);
  }

  /**
   * Links the blob first, then waits out any collection sweep that may delete its data, so that what
   * is found stored afterwards stays stored (gc-fence.ts); returns the data's size then, or null.
   */
  async linkFenced(name: string, d: Digest, canonical: Digest = d): Promise<number | null> {
    const before = await this.fence.before();
    await this.link(name, d, canonical);
    await this.fence.after(before, { blobs: [canonical.value], manifests: [] });
    return this.globalSize(canonical);
  }

  /**
   * Cross-repository mount: link a blob of `from`, or, without `from`, a blob stored under this
   * digest by any repository. False when there is nothing to mount.
   */
  async mount(name: string, d: Digest, from: string | undefined): Promise<boolean> {
    const canonical = from === undefined ? await this.canonicalOf(d) : await readLink(this.driver, paths.layerLink(from, d));
    if (!canonical || (await this.globalSize(canonical)) === null) return false;
    if ((await this.linkFenced(name, d, canonical)) !== null) return true;
    // Collected between the look and the link: the client uploads it instead.
    await deleteIfExists(this.driver, paths.layerLinkDir(name, d));
    return false;
  }

  /**
   * Where a blob known by `d` is stored, registry-wide. Data pushed by another algorithm lies under
   * its sha256, and only repository links (which a mount without `from` does not know) lead there
   * in Distribution's layout; the alias the upload leaves (under /berth) says where,
   * without a walk over every repository. The alias holds nothing that the data does not prove:
   * the caller still checks the data exists, so an alias left over after garbage collection, or
   * one lost in a crash (it is not synced), makes at worst a mount that answers 202 and an upload.
   */
  private async canonicalOf(d: Digest): Promise<Digest | null> {
    if (d.algorithm === 'sha256' || (await this.globalSize(d)) !== null) return d;
    return readLink(this.driver, paths.blobAlias(d));
  }

  /** Records where a blob pushed by a digest other than its sha256 is stored (see canonicalOf). */
  async alias(d: Digest, canonical: Digest): Promise<void> {
    if (d.value !== canonical.value) await writeLink(this.driver, paths.blobAlias(d), canonical, { durable: false });
  }

  /** Removes the repository's link; the data stays until garbage collection. */
  async unlink(name: string, d: Digest): Promise<void> {
    this.cache.layers.delete(digestKey(name, d));
    const deleted = await deleteIfExists(this.driver, paths.layerLinkDir(name, d));
    this.cache.layers.delete(digestKey(name, d));
    await this.cache.tellPeers([{ table: 'layers', key: digestKey(name, d) }]);
    if (!deleted) throw new DomainError('blob-unknown', { digest: d.value });
  }
}
