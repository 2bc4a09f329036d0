import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, listNames, readLink } from './links';
import { parseManifest } from './manifest-parse';
import type { Listing } from './listing';

export interface GcOptions {
  /** Blobs and links younger than this (ms) are never collected: a push in progress may need them. */
  grace: number;
  /** Also delete manifests that no tag reaches (through indexes and referrers). */
  deleteUntagged: boolean;
  dryRun: boolean;
  now?: number;
}

export interface GcReport {
  dryRun: boolean;
  repositories: number;
  manifestsMarked: number;
  blobsMarked: number;
  /** Blobs deleted (or that would be, in a dry run). */
  blobs: Array<{ digest: string; size: number }>;
  bytes: number;
  /** Untagged manifests deleted, as `repository@digest`. */
  manifests: string[];
  /** The driver's crash leftovers older than the grace period removed (or found, in a dry run); see purgeLeftovers. */
  leftovers: number;
  leftoverBytes: number;
}

const DIGEST_DATA = /\/blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/;

/**
 * Online mark and sweep. Mark: every blob reachable from a tag or a manifest revision (through
 * indexes, configs, layers and subjects), plus every blob a link written within the grace period
 * names, so that a push in progress that mounted or uploaded a blob keeps it until its manifest
 * arrives. Sweep: blob data that is unmarked and older than the grace period. Just before the
 * sweep the links written since the mark began are read again, which narrows the window in which a
 * push can link a blob the sweep then deletes to the sweep itself; a manifest pushed over a blob
 * deleted in that window is refused (references are checked against the data, not only the link).
 */
export class GarbageCollector {
  constructor(
    private readonly driver: StorageDriver,
    private readonly listing: Listing,
  ) {}

  async collect(opts: GcOptions): Promise<GcReport> {
    const started = opts.now ?? Date.now();
    const cutoff = started - opts.grace;
    const marked = new Set<string>();
    const report: GcReport = { dryRun: opts.dryRun, repositories: 0, manifestsMarked: 0, blobsMarked: 0, blobs: [], bytes: 0, manifests: [], leftovers: 0, leftoverBytes: 0 };
    const repositories = (await this.listing.catalog(undefined, undefined)).items;
    report.repositories = repositories.length;
    for (const name of repositories) {
      report.manifestsMarked += await this.markRepository(name, marked, opts, cutoff, report);
      await this.markFreshLinks(name, marked, cutoff);
    }
    // Links written while we marked belong to pushes that started after their repository was read.
    for (const name of repositories) await this.markFreshLinks(name, marked, started - 1000);
    report.blobsMarked = marked.size;

    for await (const info of this.walkBlobs()) {
      const m = DIGEST_DATA.exec(info.path);
      if (!m || info.isDir) continue;
      const value = `${m[1]}:${m[2]}`;
      if (marked.has(value) || info.modTime.getTime() > cutoff) continue;
      report.blobs.push({ digest: value, size: info.size });
      report.bytes += info.size;
    }
    if (!opts.dryRun)
      for (const { digest } of report.blobs) await deleteIfExists(this.driver, paths.blobDir(parseDigest(digest)));
    const leftovers = await this.driver.purgeLeftovers(new Date(cutoff), { dryRun: opts.dryRun });
    report.leftovers = leftovers.length;
    report.leftoverBytes = leftovers.reduce((sum, l) => sum + l.size, 0);
    return report;
  }

  private async *walkBlobs() {
    try {
      yield* this.driver.walk(paths.blobsRoot);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** Marks what one repository's manifests reach; returns how many manifests were kept. */
  private async markRepository(name: string, marked: Set<string>, opts: GcOptions, cutoff: number, report: GcReport): Promise<number> {
    const revisions: Digest[] = [];
    for (const alg of await listNames(this.driver, paths.revisionsDir(name)))
      for (const hex of await listNames(this.driver, `${paths.revisionsDir(name)}/${alg}`)) {
        try {
          revisions.push(parseDigest(`${alg}:${hex}`));
        } catch {
          // not a digest directory: nothing to mark
        }
      }
    const parsed = new Map<string, ReturnType<typeof parseManifest> | null>();
    const read = async (d: Digest) => {
      if (!parsed.has(d.value)) {
        try {
          parsed.set(d.value, parseManifest(await this.driver.getContent(paths.blobData(d)), undefined));
        } catch {
          parsed.set(d.value, null);
        }
      }
      return parsed.get(d.value)!;
    };

    let roots = revisions;
    if (opts.deleteUntagged) {
      const reachable = new Set<string>();
      const queue: Digest[] = [];
      for (const tag of await listNames(this.driver, paths.tagsDir(name))) {
        const d = await readLink(this.driver, paths.tagCurrentLink(name, tag));
        if (d) queue.push(d);
      }
      // A referrer (signature, SBOM) lives as long as its subject does.
      const bySubject = new Map<string, Digest[]>();
      for (const d of revisions) {
        const subject = (await read(d))?.subject?.digest.value;
        if (subject) bySubject.set(subject, [...(bySubject.get(subject) ?? []), d]);
      }
      while (queue.length > 0) {
        const d = queue.pop()!;
        if (reachable.has(d.value)) continue;
        reachable.add(d.value);
        queue.push(...((await read(d))?.manifests ?? []), ...(bySubject.get(d.value) ?? []));
      }
      roots = [];
      for (const d of revisions) {
        const link = await this.driver.stat(paths.revisionLink(name, d)).catch(() => undefined);
        if (reachable.has(d.value) || (link && link.modTime.getTime() > cutoff)) roots.push(d);
        else {
          report.manifests.push(`${name}@${d.value}`);
          if (!opts.dryRun) await deleteIfExists(this.driver, paths.revisionDir(name, d));
        }
      }
    }

    for (const d of roots) {
      const canonical = (await readLink(this.driver, paths.revisionLink(name, d))) ?? d;
      marked.add(canonical.value);
      const m = await read(d);
      if (!m) continue;
      for (const b of m.blobs) marked.add(((await readLink(this.driver, paths.layerLink(name, b))) ?? b).value);
      for (const child of m.manifests) marked.add(child.value);
      if (m.subject) marked.add(m.subject.digest.value);
    }
    return roots.length;
  }

  /** Marks the blobs named by `_layers` links written after `since`. */
  private async markFreshLinks(name: string, marked: Set<string>, since: number): Promise<void> {
    try {
      for await (const info of this.driver.walk(paths.layersDir(name))) {
        if (info.isDir || !info.path.endsWith('/link') || info.modTime.getTime() <= since) continue;
        const d = await readLink(this.driver, info.path);
        if (d) marked.add(d.value);
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
