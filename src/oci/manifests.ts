import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { OciError } from './errors';
import { digestOf, type Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, exists, listNames, readLink, sizeOf, writeLink } from './links';
import { parseManifest, storedMediaType, type ParsedManifest } from './manifest-parse';
import type { ReferrerIndex } from './referrers';
import type { BlobStore } from './blobs';

export type ManifestRef = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface PutResult {
  digest: Digest;
  subject?: Digest;
}

const MEDIA_TYPE_CACHE_SIZE = 50_000;

/**
 * Manifests are blobs in the global store with a revision link per repository; tags are links to
 * revisions. Bytes are stored exactly as pushed.
 */
export class ManifestStore {
  // Keyed by digest: content-addressed, so the cached media type can never go stale.
  private readonly mediaTypes = new Map<string, string>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
    private readonly referrers: ReferrerIndex,
  ) {}

  async put(name: string, ref: ManifestRef, bytes: Buffer, contentType: string | undefined): Promise<PutResult> {
    const digest = digestOf(bytes, ref.digest?.algorithm ?? 'sha256');
    if (ref.digest && ref.digest.value !== digest.value)
      throw new OciError('DIGEST_INVALID', { digest: ref.digest.value }, { message: 'manifest digest did not match content' });
    const parsed = parseManifest(bytes, contentType);
    await this.checkReferences(name, parsed);

    if ((await sizeOf(this.driver, paths.blobData(digest))) === null) await this.driver.putContent(paths.blobData(digest), bytes);
    await writeLink(this.driver, paths.revisionLink(name, digest), digest);
    if (parsed.subject) await this.referrers.add(name, parsed.subject.digest, digest);
    if (ref.tag !== undefined) {
      await writeLink(this.driver, paths.tagIndexLink(name, ref.tag, digest), digest);
      await writeLink(this.driver, paths.tagCurrentLink(name, ref.tag), digest);
    }
    this.remember(digest, parsed.mediaType);
    return { digest, subject: parsed.subject?.digest };
  }

  /** Tag or digest → digest of a manifest present in the repository; MANIFEST_UNKNOWN otherwise. */
  async resolve(name: string, ref: ManifestRef): Promise<Digest> {
    if (ref.digest) {
      if (!(await exists(this.driver, paths.revisionLink(name, ref.digest))))
        throw new OciError('MANIFEST_UNKNOWN', { digest: ref.digest.value });
      return ref.digest;
    }
    const digest = await readLink(this.driver, paths.tagCurrentLink(name, ref.tag));
    if (!digest) throw new OciError('MANIFEST_UNKNOWN', { tag: ref.tag });
    return digest;
  }

  async get(name: string, ref: ManifestRef): Promise<StoredManifest & { bytes: Buffer }> {
    const digest = await this.resolve(name, ref);
    const bytes = await this.readBytes(digest);
    const mediaType = this.mediaTypes.get(digest.value) ?? this.remember(digest, storedMediaType(bytes));
    return { digest, mediaType, size: bytes.length, bytes };
  }

  async head(name: string, ref: ManifestRef): Promise<StoredManifest> {
    const digest = await this.resolve(name, ref);
    const cached = this.mediaTypes.get(digest.value);
    if (cached !== undefined) {
      const size = await sizeOf(this.driver, paths.blobData(digest));
      if (size === null) throw new OciError('MANIFEST_UNKNOWN', { digest: digest.value });
      return { digest, mediaType: cached, size };
    }
    const { bytes: _bytes, ...rest } = await this.get(name, { digest });
    return rest;
  }

  /** Bytes of a manifest by digest, from the global store. */
  async readBytes(digest: Digest): Promise<Buffer> {
    try {
      return await this.driver.getContent(paths.blobData(digest));
    } catch (err) {
      if (isNotFound(err)) throw new OciError('MANIFEST_UNKNOWN', { digest: digest.value });
      throw err;
    }
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    if (!(await exists(this.driver, paths.tagCurrentLink(name, tag)))) throw new OciError('MANIFEST_UNKNOWN', { tag });
    await deleteIfExists(this.driver, paths.tagDir(name, tag));
  }

  /** Deletes a revision and every tag that points at it, as Distribution does. */
  async deleteByDigest(name: string, digest: Digest): Promise<void> {
    await this.resolve(name, { digest });
    for (const tag of await listNames(this.driver, paths.tagsDir(name))) {
      const current = await readLink(this.driver, paths.tagCurrentLink(name, tag));
      if (current?.value === digest.value) await deleteIfExists(this.driver, paths.tagDir(name, tag));
    }
    const subject = await this.subjectOf(digest);
    if (subject) await this.referrers.remove(name, subject, digest);
    await deleteIfExists(this.driver, paths.revisionDir(name, digest));
  }

  private async subjectOf(digest: Digest): Promise<Digest | undefined> {
    try {
      return parseManifest(await this.readBytes(digest), undefined).subject?.digest;
    } catch {
      return undefined;
    }
  }

  /**
   * Every referenced blob and child manifest must be linked in the repository and its data present:
   * a link whose data is gone (Distribution's garbage collector leaves such links) would make a
   * manifest that cannot be pulled.
   */
  private async checkReferences(name: string, parsed: ParsedManifest): Promise<void> {
    const blobMissing = (d: Digest) => this.blobs.stat(name, d).then(() => null, (err: unknown) => {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return d;
      throw err;
    });
    const manifestMissing = async (d: Digest) =>
      (await exists(this.driver, paths.revisionLink(name, d))) && (await sizeOf(this.driver, paths.blobData(d))) !== null ? null : d;
    const results = await Promise.all([...parsed.blobs.map(blobMissing), ...parsed.manifests.map(manifestMissing)]);
    const unknown = results.find((d) => d !== null);
    if (unknown) throw new OciError('MANIFEST_BLOB_UNKNOWN', { digest: unknown.value });
  }

  private remember(digest: Digest, mediaType: string): string {
    if (this.mediaTypes.size >= MEDIA_TYPE_CACHE_SIZE) this.mediaTypes.delete(this.mediaTypes.keys().next().value!);
    this.mediaTypes.set(digest.value, mediaType);
    return mediaType;
  }
}
