import type { StorageDriver } from '../../storage-drivers/types';
import type { Digest } from './digest';
import { deleteIfExists, listNames, readLink } from './links';
import { paths } from './paths';

/** A manifest a cache policy wants gone, and the bytes its removal frees from that cache's account. */
export interface PlannedEviction {
  repository: string;
  digest: string;
  bytes: number;
  /** The last pull the plan saw (ms, storage clock). */
  lastPull: number;
}

/**
 * What decides which cached manifests a collection removes besides the unreferenced (the pull-through
 * mirror's ttl and maxsize, mirror/eviction.ts). The collector treats a planned manifest as
 * unreferenced: not a root of the mark, a candidate of the sweep, its tags removed with it.
 */
export interface EvictionPolicy {
  /** At the mark: the manifests to evict, given the repositories and the storage's time. */
  plan(repositories: string[], now: number): Promise<PlannedEviction[]>;
  /** After the announcement: which of `planned` were pulled since the plan, as `repository@digest` (they are kept). */
  pulledSince(planned: PlannedEviction[]): Promise<Set<string>>;
  /** After a manifest was removed: drop what the policy kept about it and its removed tags. */
  evicted(repository: string, digest: string, tags: string[]): Promise<void>;
  /** After the sweep of a collection that deletes (not a dry run): drop what the policy keeps about manifests no longer stored. */
  tidy(): Promise<void>;
}

/**
 * Removes the tags of `repository` that still name `digest`; answers them. A tag moved meanwhile
 * (a mirror's re-check stored a new digest) is left alone; one moved between the read and the delete
 * is lost, which for a mirror costs one re-fetch from the upstream.
 */
export async function deleteTagsOf(driver: StorageDriver, repository: string, digest: Digest): Promise<string[]> {
  const removed: string[] = [];
  for (const tag of await listNames(driver, paths.tagsDir(repository))) {
    if ((await readLink(driver, paths.tagCurrentLink(repository, tag)))?.value !== digest.value) continue;
    await deleteIfExists(driver, paths.tagDir(repository, tag));
    removed.push(tag);
  }
  return removed;
}
