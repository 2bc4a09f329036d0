import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest } from '../oci/digest';
import { readLink } from '../oci/links';
import { Listing } from '../oci/listing';
import { paths } from '../oci/paths';
import { imageSize } from './image-size';
import { PAGE_SIZE, type LsSource, type TagRow } from './ls-source';

/**
 * `berth ls` on the configured store: reads only (listings, links, manifest bytes, one stat per
 * tag). The push time is the modification time of the tag's `current/link`, which every push of
 * the tag rewrites (a mirror writes it when it caches the tag): the last time the tag moved, or was
 * pushed again to the same digest.
 */
export class StoreLsSource implements LsSource {
  private readonly listing: Listing;

  constructor(private readonly driver: StorageDriver) {
    this.listing = new Listing(driver);
  }

  async *repositories(): AsyncIterable<string[]> {
    let last: string | undefined;
    do {
      const page = await this.listing.catalog(PAGE_SIZE, last);
      if (page.items.length > 0) yield page.items;
      last = page.next;
    } while (last !== undefined);
  }

  async *tags(repository: string): AsyncIterable<string[]> {
    let last: string | undefined;
    do {
      const page = await this.listing.tags(repository, PAGE_SIZE, last);
      if (page.items.length > 0) yield page.items;
      last = page.next;
    } while (last !== undefined);
  }

  async describe(repository: string, tag: string): Promise<TagRow> {
    const link = paths.tagCurrentLink(repository, tag);
    const digest = await readLink(this.driver, link);
    if (digest === null) return { tag, digest: null, pushed: null };
    const [bytes, pushed] = await Promise.all([this.read(digest.value), this.driver.stat(link).then((i) => i.modTime.toISOString(), () => null)]);
    if (bytes === null) return { tag, digest: digest.value, pushed };
    return { tag, digest: digest.value, pushed, ...(await imageSize(bytes, (d) => this.read(d))) };
  }

  private async read(digest: string): Promise<Buffer | null> {
    try {
      return await this.driver.getContent(paths.blobData(parseDigest(digest)));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}
