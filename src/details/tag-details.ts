import type { StorageDriver } from '../../storage-drivers/types';
import { mapBounded } from '../oci/bounded';
import { isDomainError } from '../oci/errors';
import type { Listing } from '../oci/listing';
import type { ManifestStore } from '../oci/manifests';
import { paths } from '../oci/paths';
import type { ImageSummaries } from './image-summary';

/** A tag as the UI's tags list shows it. */
export interface TagDetail {
  name: string;
  digest: string;
  /** Null when the manifest's data is missing from the store. */
  mediaType: string | null;
  size: number | null;
  platforms: string[];
  /** When the tag was last pointed: its current link's modification time (S3: LastModified). */
  pushedAt: string;
}

export interface TagDetailPage {
  tags: TagDetail[];
  /** The last tag of the listing's page, when more remain (the tags list's cursor). */
  next?: string;
}

/** Tags read at once: a few storage requests each (a round trip each on S3). */
const TAG_WINDOW = 16;

/**
 * The tags list's page (same order, same cursor) with each tag's digest, size, platforms and push
 * time. A tag deleted between the listing and its read is left out; a manifest whose data, config or
 * child is missing is listed with what is known.
 */
export class TagDetails {
  constructor(
    private readonly driver: StorageDriver,
    private readonly listing: Listing,
    private readonly manifests: ManifestStore,
    private readonly summaries: ImageSummaries,
  ) {}

  async page(name: string, n: number | undefined, last: string | undefined, signal?: AbortSignal): Promise<TagDetailPage> {
    const page = await this.listing.tags(name, n, last);
    const details = await mapBounded(page.items, TAG_WINDOW, (tag) => this.detail(name, tag, signal));
    return { tags: details.filter((d): d is TagDetail => d !== null), next: page.next };
  }

  private async detail(name: string, tag: string, signal?: AbortSignal): Promise<TagDetail | null> {
    signal?.throwIfAborted();
    const [digest, link] = await Promise.all([
      this.manifests.resolve(name, { tag }).catch((err: unknown) => {
        if (isDomainError(err, 'manifest-unknown')) return null;
        throw err;
      }),
      this.driver.statFile(paths.tagCurrentLink(name, tag)),
    ]);
    if (digest === null || link === null) return null; // deleted since the listing
    const base = { name: tag, digest: digest.value, pushedAt: link.modTime.toISOString() };
    let manifest;
    try {
      manifest = await this.manifests.get(name, { digest });
    } catch (err) {
      if (!isDomainError(err, 'manifest-unknown')) throw err;
      return { ...base, mediaType: null, size: null, platforms: [] };
    }
    const summary = await this.summaries.summary(name, digest, manifest.mediaType, manifest.bytes, signal);
    return { ...base, mediaType: manifest.mediaType, ...summary };
  }
}
