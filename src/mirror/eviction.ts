import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { mapBounded } from '../oci/bounded';
import { parseDigest, type Digest } from '../oci/digest';
import type { EvictionPolicy, PlannedEviction } from '../oci/gc-evict';
import { manifestKey } from '../oci/gc-sweep-state';
import { deleteIfExists, fileSize } from '../oci/links';
import { parseManifest } from '../oci/manifest-parse';
import { paths } from '../oci/paths';
import type { Mirror } from './mirrors';
import { mirrorOf } from './routing';
import { readPulls, type PullLog } from './pull-log';

/** Reads in flight at once while sizing a mirror's manifests. */
const READ_WINDOW = 16;

interface Cached {
  repository: string;
  digest: Digest;
  lastPull: number;
  /** Stored blobs it references, its own data included, with their sizes. */
  blobs: Map<string, number>;
}

/**
 * The pull-through mirrors' cache policy for the garbage collector (docs/architecture.md, "Mirror:
 * eviction"). Only repositories under a mirror's prefix are considered. A manifest's last pull is
 * its PullLog record, or when it has none (cached before records existed, or lost) when its
 * revision was linked. Evicted: what was last pulled more than `ttl` ago, then, while the blobs the
 * mirror's remaining manifests reference (counted once per mirror, stored ones only, shared with a
 * pushed repository or not) exceed `maxsize`, the least recently pulled.
 */
export class MirrorEviction implements EvictionPolicy {
  constructor(
    private readonly driver: StorageDriver,
    private readonly mirrors: readonly Mirror[],
    /** This process's pulls, written before each read of the records. */
    private readonly pulls?: PullLog,
  ) {}

  /** Records of manifests no longer stored (deleted untagged, or pulled while being evicted), seen by the last plan. */
  private orphans: Array<{ repository: string; digest: string }> = [];

  async plan(repositories: string[], now: number): Promise<PlannedEviction[]> {
    this.orphans = [];
    await this.pulls?.flush();
    const byMirror = new Map<Mirror, string[]>();
    for (const name of repositories) {
      const mirror = mirrorOf(name, this.mirrors);
      if (mirror && (mirror.ttl > 0 || mirror.maxsize !== undefined)) byMirror.set(mirror, [...(byMirror.get(mirror) ?? []), name]);
    }
    const planned: PlannedEviction[] = [];
    for (const [mirror, names] of byMirror) planned.push(...evictFrom(mirror, (await mapBounded(names, 4, (n) => this.cached(n))).flat(), now));
    return planned;
  }

  async pulledSince(planned: PlannedEviction[]): Promise<Set<string>> {
    await this.pulls?.flush();
    const pulled = new Set<string>();
    for (const repository of new Set(planned.map((p) => p.repository))) {
      const pulls = await readPulls(this.driver, repository);
      for (const p of planned) if (p.repository === repository && (pulls.get(p.digest) ?? 0) > p.lastPull) pulled.add(manifestKey(repository, p.digest));
    }
    return pulled;
  }

  async evicted(repository: string, digest: string, tags: string[]): Promise<void> {
    await deleteIfExists(this.driver, paths.mirrorPull(repository, parseDigest(digest)));
    for (const tag of tags) await deleteIfExists(this.driver, paths.mirrorTagCheck(repository, tag));
  }

  /**
   * Removes the orphaned records the plan found. One whose manifest is stored again meanwhile is
   * lost, and that manifest counts as pulled when it was stored: just then.
   */
  async tidy(): Promise<void> {
    for (const { repository, digest } of this.orphans.splice(0)) await deleteIfExists(this.driver, paths.mirrorPull(repository, parseDigest(digest)));
  }

  private async cached(repository: string): Promise<Cached[]> {
    const pulls = await readPulls(this.driver, repository);
    const root = paths.revisionsDir(repository);
    const linked: Array<{ digest: Digest; at: number }> = [];
    try {
      for await (const info of this.driver.walk(root)) {
        const parts = info.path.slice(root.length + 1).split('/');
        if (info.isDir || parts.length !== 3 || parts[2] !== 'link') continue;
        try {
          linked.push({ digest: parseDigest(`${parts[0]}:${parts[1]}`), at: info.modTime.getTime() });
        } catch {
          // not a revision: nothing to evict
        }
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const revisions = new Set(linked.map((l) => l.digest.value));
    for (const d of pulls.keys()) if (!revisions.has(d)) this.orphans.push({ repository, digest: d });
    return mapBounded(linked, READ_WINDOW, async ({ digest, at }) => ({
      repository,
      digest,
      lastPull: pulls.get(digest.value) ?? at,
      blobs: await this.stored(digest),
    }));
  }

  private async stored(digest: Digest): Promise<Map<string, number>> {
    const blobs = new Map<string, number>();
    let bytes: Uint8Array;
    try {
      bytes = await this.driver.getContent(paths.blobData(digest));
    } catch (err) {
      if (isNotFound(err)) return blobs;
      throw err;
    }
    blobs.set(digest.value, bytes.length);
    let refs: Digest[] = [];
    try {
      refs = parseManifest(bytes, undefined).blobs;
    } catch {
      // unparsable: only its own bytes count
    }
    const sizes = await mapBounded(refs, READ_WINDOW, (d) => fileSize(this.driver, paths.blobData(d)));
    refs.forEach((d, i) => {
      if (sizes[i] !== null) blobs.set(d.value, sizes[i]);
    });
    return blobs;
  }
}

/** One mirror's evictions: expired first, then least recently pulled while over `maxsize`. */
function evictFrom(mirror: Mirror, cached: Cached[], now: number): PlannedEviction[] {
  const refs = new Map<string, number>();
  const sizes = new Map<string, number>();
  let total = 0;
  for (const c of cached)
    for (const [d, size] of c.blobs) {
      refs.set(d, (refs.get(d) ?? 0) + 1);
      if (!sizes.has(d)) total += size;
      sizes.set(d, size);
    }
  const remove = (c: Cached): PlannedEviction => {
    let bytes = 0;
    for (const d of c.blobs.keys()) {
      const left = refs.get(d)! - 1;
      refs.set(d, left);
      if (left === 0) bytes += sizes.get(d)!;
    }
    total -= bytes;
    return { repository: c.repository, digest: c.digest.value, bytes, lastPull: c.lastPull };
  };
  const oldestFirst = [...cached].sort((a, b) => a.lastPull - b.lastPull);
  const planned: PlannedEviction[] = [];
  for (const c of oldestFirst) {
    const expired = mirror.ttl > 0 && c.lastPull < now - mirror.ttl;
    if (expired || (mirror.maxsize !== undefined && total > mirror.maxsize)) planned.push(remove(c));
  }
  return planned;
}

/** The policy for the configured mirrors; none without a mirror (nothing is ever evicted then). */
export function mirrorEviction(driver: StorageDriver, mirrors: readonly Mirror[], pulls?: PullLog): MirrorEviction | undefined {
  return mirrors.length === 0 ? undefined : new MirrorEviction(driver, mirrors, pulls);
}
