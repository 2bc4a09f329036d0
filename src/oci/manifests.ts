import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { OciError } from './errors';
import { digestOf, type Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, exists, listNames, readLink, sizeOf, writeLink } from './links';
import { parseManifest, storedMediaType, type ParsedManifest } from './manifest-parse';
import type { ReferrerIndex } from './referrers';
import type { BlobStore } from './blobs';
import { digestKey, ReadCache, tagKey, type ManifestBody } from './read-cache';

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
    private readonly cache: ReadCache = new ReadCache({ ttlMs: 0 }),
  ) {}

  async put(name: string, ref: ManifestRef, bytes: Buffer, contentType: string | undefined): Promise<PutResult> {
    const digest = digestOf(bytes, ref.digest?.algorithm ?? 'sha256');
    if (ref.digest && ref.digest.value !== digest.value)
      throw new OciError('DIGEST_INVALID', { digest: ref.digest.value }, { message: 'manifest digest did not match content' });
    const parsed = parseManifest(bytes, contentType);

    // Each write below waits for its own fsync, so independent ones run together and a PUT costs
    // two fsync rounds rather than four. Order that still holds for a crash at any point:
    // - data that nothing links to is harmless (garbage collection reclaims it), so it is written
    //   while the references are checked;
    // - a revision or tag-index link whose data is not (yet) stored reads as an unknown manifest
    //   everywhere (get, head, gc), so those links go out once the references are known good,
    //   alongside the data;
    // - a referrer listing reads each referrer's bytes, so its link waits for the data;
    // - the tag's current link, the only thing a client follows by name, goes last, once
    //   everything it leads to is durable.
    // The tag-index link is tag history kept for Distribution's layout: nothing resolves through it
    // (Berth never reads it; Distribution deletes it by path), so losing it in a crash costs nothing,
    // and it is not synced. On a fresh tag it sits under three new directories, and a sync of a new
    // entry there also writes each new directory: a quarter of a tagged PUT's block writes here.
    const data = paths.blobData(digest);
    const stored = sizeOf(this.driver, data).then((size) => (size === null ? this.driver.putContent(data, bytes) : undefined));
    const linked = this.checkReferences(name, parsed).then(() =>
      Promise.all([
        writeLink(this.driver, paths.revisionLink(name, digest), digest),
        ref.tag !== undefined ? writeLink(this.driver, paths.tagIndexLink(name, ref.tag, digest), digest, { durable: false }) : undefined,
      ]),
    );
    const subject = parsed.subject;
    const referred = subject ? Promise.all([stored, linked]).then(() => this.referrers.add(name, subject.digest, digest)) : undefined;
    try {
      await allSettled([linked, stored, referred]);
      if (ref.tag !== undefined) await writeLink(this.driver, paths.tagCurrentLink(name, ref.tag), digest);
    } catch (err) {
      if (ref.tag !== undefined) await this.dropUnfinishedTag(name, ref.tag);
      throw err;
    }
    this.remember(digest, parsed.mediaType);
    this.stored(name, ref.tag, digest, { bytes, mediaType: parsed.mediaType });
    return { digest, subject: parsed.subject?.digest };
  }

  /** Tag or digest → digest of a manifest present in the repository; MANIFEST_UNKNOWN otherwise. */
  async resolve(name: string, ref: ManifestRef): Promise<Digest> {
    if (ref.digest) {
      const key = digestKey(name, ref.digest);
      if (this.cache.revisions.get(key)) return ref.digest;
      if (!(await exists(this.driver, paths.revisionLink(name, ref.digest))))
        throw new OciError('MANIFEST_UNKNOWN', { digest: ref.digest.value });
      this.cache.revisions.set(key, true);
      return ref.digest;
    }
    const key = tagKey(name, ref.tag);
    const cached = this.cache.tags.get(key);
    if (cached) return cached;
    const digest = await readLink(this.driver, paths.tagCurrentLink(name, ref.tag));
    if (!digest) throw new OciError('MANIFEST_UNKNOWN', { tag: ref.tag });
    this.cache.tags.set(key, digest);
    return digest;
  }

  async get(name: string, ref: ManifestRef): Promise<StoredManifest & { bytes: Buffer }> {
    const digest = await this.resolve(name, ref);
    const { bytes, mediaType } = await this.body(digest);
    return { digest, mediaType, size: bytes.length, bytes };
  }

  /** The same as get without the bytes: a manifest is small, so reading it beats a stat plus a parse. */
  async head(name: string, ref: ManifestRef): Promise<StoredManifest> {
    const { bytes: _bytes, ...rest } = await this.get(name, ref);
    return rest;
  }

  private async body(digest: Digest): Promise<ManifestBody> {
    const cached = this.cache.bodies.get(digest.value);
    if (cached) return cached;
    const bytes = await this.readBytes(digest);
    const body = { bytes, mediaType: this.mediaTypes.get(digest.value) ?? this.remember(digest, storedMediaType(bytes)) };
    this.cache.bodies.set(digest.value, body);
    return body;
  }

  /** What a write through this process makes true is true at once for its readers. */
  private stored(name: string, tag: string | undefined, digest: Digest, body: ManifestBody): void {
    this.cache.bodies.set(digest.value, body);
    this.cache.revisions.set(digestKey(name, digest), true);
    if (tag !== undefined) {
      this.cache.tags.set(tagKey(name, tag), digest);
      this.cache.tagLists.delete(name);
    }
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
    this.forgetTag(name, tag);
    if (!(await exists(this.driver, paths.tagCurrentLink(name, tag)))) throw new OciError('MANIFEST_UNKNOWN', { tag });
    await deleteIfExists(this.driver, paths.tagDir(name, tag));
    this.forgetTag(name, tag);
  }

  /** Deletes a revision and every tag that points at it, as Distribution does. */
  async deleteByDigest(name: string, digest: Digest): Promise<void> {
    this.cache.revisions.delete(digestKey(name, digest));
    await this.resolve(name, { digest });
    for (const tag of await listNames(this.driver, paths.tagsDir(name))) {
      const current = await readLink(this.driver, paths.tagCurrentLink(name, tag));
      if (current?.value === digest.value) {
        await deleteIfExists(this.driver, paths.tagDir(name, tag));
        this.forgetTag(name, tag);
      }
    }
    const subject = await this.subjectOf(digest);
    if (subject) await this.referrers.remove(name, subject, digest);
    await deleteIfExists(this.driver, paths.revisionDir(name, digest));
    // Cleared after the delete too: a read that raced it may have cached the revision again.
    this.cache.revisions.delete(digestKey(name, digest));
    this.cache.layers.delete(digestKey(name, digest));
  }

  /**
   * A tag is listed by its directory, so a push that failed (a full disk) after making it but before
   * the current link would list a tag that does not resolve. A tag that already had a current link
   * keeps it (and its old target). Best effort: the store may refuse the delete as well.
   */
  private async dropUnfinishedTag(name: string, tag: string): Promise<void> {
    try {
      if (!(await exists(this.driver, paths.tagCurrentLink(name, tag)))) await deleteIfExists(this.driver, paths.tagDir(name, tag));
    } catch {
      // The push fails with its own error either way.
    }
    this.forgetTag(name, tag);
  }

  private forgetTag(name: string, tag: string): void {
    this.cache.tags.delete(tagKey(name, tag));
    this.cache.tagLists.delete(name);
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

/**
 * Waits for every promise to settle, then rejects with the first failure in argument order: no
 * write is still running when the caller reports an error, and a failed reference check wins over
 * a write error it made irrelevant.
 */
async function allSettled(promises: (Promise<unknown> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
