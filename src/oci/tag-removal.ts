import type { StorageDriver } from '../../storage-drivers/types';
import type { Digest } from './digest';
import { deleteIfExists, isFile, listNames, readLinkAsStored } from './links';
import { paths } from './paths';

/**
 * How a tag is taken out of a repository without losing a push of it that lands meanwhile
 * (docs/architecture.md, "Deletes racing pushes"). A tag is its directory: the current link is what
 * resolves, the index links are history, and the directory is what a listing shows.
 */

/**
 * Removes every tag whose current link names `digest`, each only while its link still holds what
 * was read (dropTag); returns the tags removed.
 */
export async function removeTagsNaming(driver: StorageDriver, name: string, digest: Digest): Promise<string[]> {
  const removed: string[] = [];
  for (const tag of await listNames(driver, paths.tagsDir(name))) {
    const current = await readLinkAsStored(driver, paths.tagCurrentLink(name, tag));
    if (current?.digest.value === digest.value && (await dropTag(driver, name, tag, current.bytes))) removed.push(tag);
  }
  return removed;
}

/**
 * Removes a tag only while its current link holds `link` (the bytes as read, so that one written
 * by Distribution or by hand matches too): a push of the tag to another manifest since then keeps
 * it, and the delete counts as coming first. The index links go after the current link, so a crash
 * in between leaves a tag listed without a current link (`phantom-tag`, which the store check
 * repairs), never a current link without what it names.
 */
async function dropTag(driver: StorageDriver, name: string, tag: string, link: Buffer): Promise<boolean> {
  if (!(await driver.deleteIf(paths.tagCurrentLink(name, tag), link))) return false;
  await dropRemains(driver, name, tag);
  return true;
}

/**
 * A refused push leaves no tag listed without its current link: a delete took the current links
 * of `lost`, and the push had written their index links (`phantom-tag` in the store check).
 */
export async function dropPhantomTags(driver: StorageDriver, name: string, lost: string[]): Promise<void> {
  for (const tag of lost) if (!(await isFile(driver, paths.tagCurrentLink(name, tag)))) await dropRemains(driver, name, tag);
}

/**
 * A tag's index links and emptied directories, not its whole directory: a push of the tag that
 * writes its current link meanwhile keeps it (only its index link may go, which nothing reads).
 */
async function dropRemains(driver: StorageDriver, name: string, tag: string): Promise<void> {
  await deleteIfExists(driver, paths.tagIndexDir(name, tag));
  await driver.pruneDirs(paths.tagDir(name, tag));
}
