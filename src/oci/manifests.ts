import { LRUCache } from 'lru-cache';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { DomainError } from './errors';
import { digestOf, type Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, isFile, putIfAbsent, readLink, writeLink } from './links';
import { dropPhantomTags, removeTagsNaming } from './tag-removal';
import { parseManifest, storedMediaType, type ManifestLimits, type ParsedManifest } from './manifest-parse';
import type { ReferrerIndex } from './referrers';
import type { BlobStore } from './blobs';
import { digestKey, forgetTags, ReadCache, tagKey, type ManifestBody } from './read-cache';
import { GcFence } from './gc-fence';
import { ManifestReferences } from './manifest-references';
import { manifestKey } from './gc-sweep-state';

export type ManifestRef = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

interface Written {
  /** The stored digests of the blobs and manifests it references. */
  canonicals: string[];
  /** Whether the repository held the manifest before this write. */
  hadRevision: boolean;
}

export interface PutResult {
  digest: Digest;
  subject?: Digest;
  /** Every tag now pointing at the manifest, the pushed one and those of `?tag=`. */
  tags: string[];
  mediaType: string;
  /** An image's config and layers as the manifest names them (none for an index). */
  config?: Digest;
  layers: Digest[];
}

export interface PutOptions extends ManifestLimits {
  /**
   * A pull-through mirror's manifest: its blobs and child manifests are fetched from the upstream
   * when a client asks for them, so those not stored yet are no reason to refuse it. Those present
   * are fenced against a concurrent collection as for any push.
   */
  referencesFetchedLater?: boolean;
  /**
   * Runs once the manifest is known valid and before anything is written; what it throws refuses
   * the push. Image insight's secret policy checks here, on the manifest this parse read.
   */
  beforeWrite?: (parsed: ParsedManifest) => Promise<void>;
}

const MEDIA_TYPE_CACHE_SIZE = 50_000;
/**
 * How many times a push writes again a tag that deletes keep removing under it. Each round needs
 * another delete landing between the push's write and its look; beyond this, the last write stands.
 */
const TAG_REWRITES = 3;

/**
 * Manifests are blobs in the global store with a revision link per repository; tags are links to
 * revisions. Bytes are stored exactly as pushed.
 */
export class ManifestStore {
  // Keyed by digest: content-addressed, so the cached media type can never go stale.
  private readonly mediaTypes = new LRUCache<string, string>({ max: MEDIA_TYPE_CACHE_SIZE });
  private readonly references: ManifestReferences;

  constructor(
    private readonly driver: StorageDriver,
    blobs: BlobStore,
    private readonly referrers: ReferrerIndex,
    private readonly cache: ReadCache = new ReadCache({ ttlMs: 0 }),
    private readonly fence: GcFence = new GcFence(driver),
  ) {
    this.references = new ManifestReferences(driver, blobs);
  }

  /** `alsoTag`: further (validated) tags for a push by digest, applied with the same guarantees as a push by tag. */
  async put(
    name: string,
    ref: ManifestRef,
    bytes: Buffer,
    contentType: string | undefined,
    alsoTag: string[] = [],
    limits: PutOptions = {},
  ): Promise<PutResult> {
    const tags = [...new Set(ref.tag !== undefined ? [ref.tag, ...alsoTag] : alsoTag)];
    const digest = digestOf(bytes, ref.digest?.algorithm ?? 'sha256');
    if (ref.digest && ref.digest.value !== digest.value)
      throw new DomainError('digest-invalid', { digest: ref.digest.value }, 'manifest digest did not match content');
    const parsed = parseManifest(bytes, contentType, limits);
    await limits.beforeWrite?.(parsed);
    const write = () => this.writeFenced(name, digest, bytes, parsed, limits.referencesFetchedLater === true);
    await write();
    await this.tag(name, tags, digest, parsed, write);
    this.remember(digest, parsed.mediaType);
    this.stored(name, tags, digest, { bytes, mediaType: parsed.mediaType });
    // Peers may hold what the tags named before.
    await this.cache.tellPeers(forgetTags(name, tags));
    return { digest, subject: parsed.subject?.digest, tags, mediaType: parsed.mediaType, config: parsed.config, layers: parsed.layers };
  }

  /**
   * Stores the manifest and its revision link, fenced against a concurrent collection: a collection
   * sweeping at the same time may delete what this manifest references, and the fence tells, after
   * the revision link is written, whether the checks must run again (gc-fence.ts).
   */
  private async writeFenced(name: string, digest: Digest, bytes: Buffer, parsed: ParsedManifest, referencesLater: boolean): Promise<void> {
    let first: Written | undefined;
    for (let attempt = 1; ; attempt++) {
      const before = await this.fence.before();
      let written: Written;
      try {
        written = await this.write(name, digest, bytes, parsed, referencesLater);
      } catch (err) {
        // A check that failed only on a second look means a sweep took a blob after the first
        // look: this push is refused, and a revision it added goes.
        if (first) await this.undo(name, digest, parsed, first);
        throw err;
      }
      first ??= written;
      const refs = {
        blobs: [digest.value, ...written.canonicals],
        manifests: [manifestKey(name, digest.value), ...parsed.manifests.map((m) => manifestKey(name, m.value))],
      };
      if ((await this.fence.after(before, refs)) === 'clear') return;
      if (attempt === 3)
        throw new DomainError('collection-conflict', {}, 'garbage collection kept deleting content this manifest references; retry');
    }
  }

  /** Takes back what a refused push wrote: a revision it added goes (a first write has tagged nothing yet). */
  private async undo(name: string, digest: Digest, parsed: ParsedManifest, written: Written): Promise<void> {
    if (written.hadRevision) return;
    if (parsed.subject) await this.referrers.remove(name, parsed.subject.digest, digest);
    await deleteIfExists(this.driver, paths.revisionDir(name, digest));
    this.cache.revisions.delete(digestKey(name, digest));
    // Peers may have read the revision while it stood.
    await this.cache.tellPeers([{ table: 'revisions', key: digestKey(name, digest) }]);
  }

  /**
   * Points each tag at the manifest, once the fence has cleared it: nothing a tag leads to can be
   * collected after that (the revision link is fresh, so a later mark keeps it), and a push refused
   * on a second look has written no tag, so none is read beforehand to be put back.
   * A tag is listed as soon as its directory exists, so nothing is written below it before its
   * current link (the driver makes a new link's directories appear with it). The tag-index link is
   * tag history kept for Distribution's layout: nothing resolves through it (Berth never reads it;
   * Distribution deletes it by path), so losing it in a crash costs nothing, and it is not synced.
   */
  private async tag(name: string, tags: string[], digest: Digest, parsed: ParsedManifest, write: () => Promise<void>): Promise<void> {
    await allSettled(tags.map((tag) => writeLink(this.driver, paths.tagCurrentLink(name, tag), digest)));
    await this.writeIndexLinks(name, tags, digest);
    await this.keepTags(name, tags, digest, write);
  }

  /** Stores the manifest and its revision link (and referrer link); tags come once the fence clears them. */
  private async write(name: string, digest: Digest, bytes: Buffer, parsed: ParsedManifest, referencesLater: boolean): Promise<Written> {
    // Each write below waits for its own fsync, so independent ones run together. Order that still
    // holds for a crash at any point:
    // - data that nothing links to is harmless (garbage collection reclaims it), so it is written
    //   while the references are checked; content-addressed, it is written only where absent, in
    //   one request on S3 (a conditional PUT);
    // - a revision link whose data is not (yet) stored reads as an unknown manifest everywhere
    //   (get, head, gc), so it goes out once the references are known good, alongside the data;
    // - a referrer listing reads each referrer's bytes, so its link waits for the data;
    // - each tag's current link, the only thing a client follows by name, goes once everything it
    //   leads to is durable and fenced (tag()).
    const stored = putIfAbsent(this.driver, paths.blobData(digest), bytes);
    let canonicals: string[] = [];
    const checked = referencesLater ? this.references.present(name, parsed) : this.references.required(name, parsed);
    // Whether the repository held the revision (for undo()) comes from its conditional write. One
    // that was there is written again all the same: a collection's re-read keeps what revision
    // links written since its mark began lead to, and this push is about to lead a tag there.
    const linked = checked.then(async (found) => {
      canonicals = found;
      const link = paths.revisionLink(name, digest);
      const created = await putIfAbsent(this.driver, link, Buffer.from(digest.value));
      if (!created) await writeLink(this.driver, link, digest);
      return !created;
    });
    const subject = parsed.subject;
    const referred = subject ? Promise.all([stored, linked]).then(() => this.referrers.add(name, subject.digest, digest)) : undefined;
    await allSettled([linked, stored, referred]);
    return { canonicals, hadRevision: await linked };
  }

  private writeIndexLinks(name: string, tags: string[], digest: Digest): Promise<unknown> {
    return Promise.all(tags.map((tag) => writeLink(this.driver, paths.tagIndexLink(name, tag, digest), digest, { durable: false })));
  }

  /**
   * A delete of a tag (by tag, or by the digest it names) removes the tag's directory, and one by
   * digest the revision link too. One that does so between this push's links and its 201 would
   * leave the tag gone, listed with only its index link, or naming a revision that is gone, after
   * the client was told it was stored. So the current links and the revision link are looked at
   * once more after the last write (one HEAD each on S3, together): one that is gone was removed
   * by a delete that came after it was written, so this push counts as coming after that delete and
   * stores the manifest again (`write`: checked and fenced again, since a collection that ran after
   * the delete may have swept what it references; then this push is refused), then the lost tags.
   * A delete that removes something after this look was still running when the push was answered,
   * and counts as coming after the push: a delete by digest looks for tags naming it again once its
   * revision is gone (deleteByDigest), so none is left naming nothing (docs/architecture.md,
   * "Deletes racing pushes").
   */
  private async keepTags(name: string, tags: string[], digest: Digest, write: () => Promise<void>): Promise<void> {
    // Untagged, nothing can be left naming a removed revision: a delete landing now simply came after.
    if (tags.length === 0) return;
    for (let round = 1; round <= TAG_REWRITES; round++) {
      const [revision, ...present] = await Promise.all([
        isFile(this.driver, paths.revisionLink(name, digest)),
        ...tags.map((tag) => isFile(this.driver, paths.tagCurrentLink(name, tag))),
      ]);
      const lost = tags.filter((_, i) => !present[i]);
      if (revision && lost.length === 0) return;
      try {
        await write();
      } catch (err) {
        await dropPhantomTags(this.driver, name, lost);
        throw err;
      }
      await Promise.all(lost.map((tag) => writeLink(this.driver, paths.tagCurrentLink(name, tag), digest)));
      await this.writeIndexLinks(name, lost, digest);
    }
  }

  /** Tag or digest → digest of a manifest present in the repository; MANIFEST_UNKNOWN otherwise. */
  async resolve(name: string, ref: ManifestRef): Promise<Digest> {
    const { digest, tag } = ref;
    if (digest) {
      await this.cache.revisions.read(digestKey(name, digest), async () => {
        if (!(await isFile(this.driver, paths.revisionLink(name, digest)))) throw new DomainError('manifest-unknown', { digest: digest.value });
        return true;
      });
      return digest;
    }
    return this.cache.tags.read(tagKey(name, tag), async () => {
      const current = await readLink(this.driver, paths.tagCurrentLink(name, tag));
      if (!current) throw new DomainError('manifest-unknown', { tag });
      return current;
    });
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
    return this.cache.body(digest.value, async () => {
      const bytes = await this.readBytes(digest);
      return { bytes, mediaType: this.mediaTypes.get(digest.value) ?? this.remember(digest, storedMediaType(bytes)) };
    });
  }

  /** What a write through this process makes true is true at once for its readers. */
  private stored(name: string, tags: string[], digest: Digest, body: ManifestBody): void {
    this.cache.bodies.set(digest.value, body);
    this.cache.revisions.set(digestKey(name, digest), true);
    for (const tag of tags) this.cache.tags.set(tagKey(name, tag), digest);
    if (tags.length > 0) this.cache.tagLists.delete(name);
  }

  /** Bytes of a manifest by digest, from the global store. */
  async readBytes(digest: Digest): Promise<Buffer> {
    try {
      return await this.driver.getContent(paths.blobData(digest));
    } catch (err) {
      if (isNotFound(err)) throw new DomainError('manifest-unknown', { digest: digest.value });
      throw err;
    }
  }

  async deleteTag(name: string, tag: string): Promise<void> {
    this.forgetTag(name, tag);
    const resolves = await isFile(this.driver, paths.tagCurrentLink(name, tag));
    // A tag directory without its current link (a crash of an older Berth, or of Distribution,
    // mid-push) is listed but resolves to nothing: removing it is still what the client asked for.
    const deleted = await deleteIfExists(this.driver, paths.tagDir(name, tag));
    this.forgetTag(name, tag);
    await this.cache.tellPeers(forgetTags(name, [tag]));
    if (!deleted && !resolves) throw new DomainError('manifest-unknown', { tag });
  }

  /** Deletes a revision and every tag that points at it, as Distribution does; returns those tags. */
  async deleteByDigest(name: string, digest: Digest): Promise<string[]> {
    this.cache.revisions.delete(digestKey(name, digest));
    await this.resolve(name, { digest });
    // Tags go before the revision, so a crash in between leaves an untagged manifest, not a tag
    // naming nothing.
    const removed = await this.untag(name, digest);
    const subject = await this.subjectOf(digest);
    if (subject) await this.referrers.remove(name, subject, digest);
    await deleteIfExists(this.driver, paths.revisionDir(name, digest));
    // A push of this manifest that tagged it after the first look and checked its links before the
    // revision went (keepTags) was answered: it counts as coming before this delete, and its tag
    // would name a revision that is gone. A push that checked after sees the revision gone and
    // writes it again, so this second look, made after the revision went, is the last one needed.
    for (const tag of await this.untag(name, digest)) if (!removed.includes(tag)) removed.push(tag);
    // Cleared after the delete too: a read that raced it may have cached the revision again.
    this.cache.revisions.delete(digestKey(name, digest));
    this.cache.layers.delete(digestKey(name, digest));
    await this.cache.tellPeers([
      ...forgetTags(name, removed),
      { table: 'revisions', key: digestKey(name, digest) },
      { table: 'layers', key: digestKey(name, digest) },
    ]);
    return removed;
  }

  /** Removes every tag whose current link names the digest; returns them. */
  private async untag(name: string, digest: Digest): Promise<string[]> {
    const removed = await removeTagsNaming(this.driver, name, digest);
    for (const tag of removed) this.forgetTag(name, tag);
    return removed;
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

  /** The referenced blobs and child manifests that are not linked in the repository with their data present. */
  async missingReferences(name: string, parsed: ParsedManifest): Promise<Digest[]> {
    return this.references.missing(name, parsed);
  }

  private remember(digest: Digest, mediaType: string): string {
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
  const results = await Promise.allSettled(promises.filter((p) => p !== undefined));
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
