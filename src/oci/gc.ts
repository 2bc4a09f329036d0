import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest } from './digest';
import { paths } from './paths';
import { deleteIfExists, fileSize, readLink } from './links';
import type { Listing } from './listing';
import { Marker } from './gc-mark';
import { manifestKey, splitManifestKey } from './gc-sweep-state';
import { storageNow } from './storage-clock';
import { SweepNotice } from './gc-sweep';
import { mapBounded } from './bounded';
import { deleteTagsOf, type EvictionPolicy, type PlannedEviction } from './gc-evict';

export interface GcOptions {
  /** Blobs and links younger than this (ms) are never collected: a push in progress may need them. */
  grace: number;
  /** Also delete manifests that no tag reaches (through indexes and referrers). */
  deleteUntagged: boolean;
  dryRun: boolean;
  /** The mark's start, in the storage's clock; read from the storage when absent. */
  now?: number;
  /** The collection lease (gc-lease.ts), checked before each destructive step. */
  lease?: { assertHeld(): void };
  /**
   * Told what the sweep is about to delete, once, before it deletes any of it (notifications record
   * it there, so that no deletion goes unreported); it rejecting stops the sweep before any deletion.
   * Never called in a dry run or when nothing is deleted.
   */
  onDeleting?: (deletions: GcDeletion[]) => Promise<void>;
  /** Cached manifests to remove besides the unreferenced (the mirror's ttl and maxsize; gc-evict.ts). */
  eviction?: EvictionPolicy;
  /**
   * The quiet period (ms) this collection promises writers: it waits that long after announcing a
   * sweep before it re-reads the links, which spares every write meanwhile a second read of the
   * sweep state (gc-fence.ts). 0 (the default) promises none.
   */
  quietMs?: number;
  /** Told how far the collection is, often (per repository marked, per blob walked): keep it cheap. */
  onProgress?: (p: GcProgress) => void;
}

/** How far a collection is: for a progress line (`berth gc` on a terminal). */
export interface GcProgress {
  phase: 'mark' | 'walk' | 'sweep';
  repositories: number;
  repositoriesMarked: number;
  blobsMarked: number;
  /** Blob data files walked, and their bytes. */
  blobsWalked: number;
  bytesWalked: number;
  /** Objects deleted so far in the sweep. */
  deleted: number;
}

/** One object a sweep deletes: a manifest revision of one repository, or blob data shared by all. */
export type GcDeletion = { kind: 'manifest'; repository: string; digest: string } | { kind: 'blob'; digest: string; size: number };

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
  /** Manifests an eviction policy removed (or would, in a dry run), as `repository@digest`; also in `manifests`. */
  evicted: string[];
  /** What those freed from the policy's account (blobs also referenced elsewhere stay, and are not in `bytes`). */
  evictedBytes: number;
  /** Candidates kept because a push made them reachable (or a pull wanted an evicted manifest) while the collection ran. */
  rescued: number;
  /** The driver's crash leftovers older than the grace period removed (or found, in a dry run); see purgeLeftovers. */
  leftovers: number;
  leftoverBytes: number;
  /**
   * Blobs no manifest references that were spared by the grace period (their data, or a link to
   * them, is younger: a push in progress may need them): why a collection may delete none.
   */
  young: { blobs: number; bytes: number };
}

const DIGEST_DATA = /\/blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/;
/** Modification times may be truncated to the second (S3): what is this close to the mark's start counts as written after it. */
const CLOCK_SLACK_MS = 2_000;
/** Repositories marked (and re-read) at once; each has up to Marker's read window in flight. */
const REPOSITORY_WINDOW = 4;

/**
 * Online mark and sweep (docs/architecture.md, "Garbage collection"). Mark: every blob reachable from
 * a tag or a manifest revision (through indexes, configs, layers and subjects), plus every blob a
 * link written within the grace period names, so that a push in progress keeps what it uploaded or
 * mounted until its manifest arrives. Sweep: announce the candidates (gc-sweep.ts), then re-read
 * every link written since the mark began, in every repository including those created since, and
 * delete only what none of them reaches. A push that overlaps the sweep either wrote its links
 * before that re-read (and is seen) or sees the announcement and waits (gc-fence.ts).
 */
export class GarbageCollector {
  private readonly owner = `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`;

  constructor(
    private readonly driver: StorageDriver,
    private readonly listing: Listing,
  ) {}

  async collect(opts: GcOptions): Promise<GcReport> {
    const started = opts.now ?? (await storageNow(this.driver, this.owner));
    const cutoff = started - opts.grace;
    const marker = new Marker(this.driver);
    const marked = new Set<string>();
    const report: GcReport = { dryRun: opts.dryRun, repositories: 0, manifestsMarked: 0, blobsMarked: 0, blobs: [], bytes: 0, manifests: [], evicted: [], evictedBytes: 0, rescued: 0, leftovers: 0, leftoverBytes: 0, young: { blobs: 0, bytes: 0 } };
    const repositories = await this.repositories();
    report.repositories = repositories.length;
    const progress: GcProgress = { phase: 'mark', repositories: repositories.length, repositoriesMarked: 0, blobsMarked: 0, blobsWalked: 0, bytesWalked: 0, deleted: 0 };
    const tell = opts.onProgress === undefined ? () => undefined : () => opts.onProgress!(progress);
    const planned = opts.eviction ? await opts.eviction.plan(repositories, started) : [];
    const evicting = new Map<string, Set<string>>();
    for (const p of planned) evicting.set(p.repository, (evicting.get(p.repository) ?? new Set()).add(p.digest));
    // Apart, to tell the report which blobs only the grace period keeps.
    const fresh = new Set<string>();
    const marks = await mapBounded(repositories, REPOSITORY_WINDOW, async (name) => {
      const [mark] = await Promise.all([marker.repository(name, marked, opts.deleteUntagged, cutoff, evicting.get(name)), marker.freshLinks(name, fresh, cutoff)]);
      progress.repositoriesMarked++;
      progress.blobsMarked = marked.size;
      tell();
      return mark;
    });
    const evictedKeys = new Map(planned.map((p) => [manifestKey(p.repository, p.digest), p]));
    const untagged = [...new Set([...marks.flatMap((m) => m.untagged), ...evictedKeys.keys()])];
    report.manifestsMarked = marks.reduce((n, m) => n + m.roots, 0);
    const onlyFresh = new Set<string>();
    for (const d of fresh)
      if (!marked.has(d)) {
        onlyFresh.add(d);
        marked.add(d);
      }
    report.blobsMarked = marked.size;

    const candidates = new Map<string, number>();
    progress.phase = 'walk';
    for await (const info of this.walk(paths.blobsRoot)) {
      if (info.isDir) continue;
      const m = DIGEST_DATA.exec(info.path);
      if (!m) continue;
      progress.blobsWalked++;
      progress.bytesWalked += info.size;
      tell();
      const value = `${m[1]}:${m[2]}`;
      const young = info.modTime.getTime() > cutoff;
      if (onlyFresh.has(value) || (young && !marked.has(value))) {
        report.young.blobs++;
        report.young.bytes += info.size;
      } else if (!young && !marked.has(value)) candidates.set(value, info.size);
    }
    progress.phase = 'sweep';
    if (opts.dryRun || (candidates.size === 0 && untagged.length === 0)) {
      report.manifests = untagged;
      for (const p of planned) this.countEvicted(report, p);
      for (const [digest, size] of candidates) this.count(report, digest, size);
      if (!opts.dryRun && opts.eviction) {
        opts.lease?.assertHeld();
        await opts.eviction.tidy();
      }
      return this.purgeLeftovers(report, cutoff);
    }

    opts.lease?.assertHeld();
    const notice = await SweepNotice.begin(this.driver, this.owner, { blobs: [...candidates.keys()], manifests: untagged }, opts.quietMs);
    const assertLive = () => {
      notice.assertLive();
      opts.lease?.assertHeld();
    };
    try {
      const rescued = new Set<string>();
      const kept = new Set<string>();
      // Every listing here starts after the announcement: what a writer linked before it read the
      // state again is listed (gc-fence.ts).
      await mapBounded(await this.repositories(), REPOSITORY_WINDOW, (name) => marker.writtenSince(name, started - CLOCK_SLACK_MS, rescued, kept));
      // A manifest pulled since the plan keeps what it references: at worst its record lands after
      // this read (another replica's unflushed pull) and its client re-fetches from the upstream.
      if (opts.eviction && planned.length > 0)
        for (const key of await opts.eviction.pulledSince(planned)) {
          const { repository, digest } = splitManifestKey(key);
          await marker.closure(repository, parseDigest(digest), rescued, kept);
        }
      const manifests = untagged.filter((key) => !kept.has(key));
      const blobs = [...candidates].filter(([digest]) => !rescued.has(digest));
      report.rescued += untagged.length - manifests.length + candidates.size - blobs.length;
      if (opts.onDeleting && manifests.length + blobs.length > 0) {
        assertLive();
        await opts.onDeleting([
          ...manifests.map((key): GcDeletion => ({ kind: 'manifest', ...splitManifestKey(key) })),
          ...blobs.map(([digest, size]): GcDeletion => ({ kind: 'blob', digest, size })),
        ]);
      }
      for (const key of manifests) {
        const { repository, digest } = splitManifestKey(key);
        assertLive();
        const evicted = evictedKeys.get(key);
        const tags = evicted ? await deleteTagsOf(this.driver, repository, parseDigest(digest)) : [];
        await deleteIfExists(this.driver, paths.revisionDir(repository, parseDigest(digest)));
        report.manifests.push(key);
        progress.deleted++;
        tell();
        if (evicted) {
          await opts.eviction!.evicted(repository, digest, tags);
          this.countEvicted(report, evicted);
        }
      }
      for (const [digest, size] of blobs) {
        assertLive();
        const d = parseDigest(digest);
        await deleteIfExists(this.driver, paths.blobDir(d));
        // The analysis goes with its blob (docs/architecture.md, "Image insight: analysis in storage").
        await deleteIfExists(this.driver, paths.insightLayerDir(d));
        this.count(report, digest, size);
        progress.deleted++;
        tell();
      }
    } finally {
      await notice.end();
    }
    opts.lease?.assertHeld();
    await opts.eviction?.tidy();
    opts.lease?.assertHeld();
    await this.sweepAliases(cutoff);
    opts.lease?.assertHeld();
    return this.purgeLeftovers(report, cutoff);
  }

  private async purgeLeftovers(report: GcReport, cutoff: number): Promise<GcReport> {
    const leftovers = await this.driver.purgeLeftovers(new Date(cutoff), { dryRun: report.dryRun });
    report.leftovers = leftovers.length;
    report.leftoverBytes = leftovers.reduce((sum, l) => sum + l.size, 0);
    return report;
  }

  /**
   * An alias (BlobStore.canonicalOf) whose data is gone would only cost a lookup, but nothing else
   * would ever remove it: it goes with its data. One written again by a push racing this sweep is
   * at worst lost, which makes that blob's next anonymous mount an upload.
   */
  private async sweepAliases(cutoff: number): Promise<void> {
    const aliases: string[] = [];
    for await (const info of this.walk(paths.blobAliases)) if (!info.isDir && info.modTime.getTime() <= cutoff) aliases.push(info.path);
    for (const path of aliases) {
      const canonical = await readLink(this.driver, path).catch(() => null);
      if (!canonical || (await fileSize(this.driver, paths.blobData(canonical))) === null) await deleteIfExists(this.driver, path);
    }
  }

  private countEvicted(report: GcReport, p: PlannedEviction): void {
    report.evicted.push(manifestKey(p.repository, p.digest));
    report.evictedBytes += p.bytes;
  }

  private count(report: GcReport, digest: string, size: number): void {
    report.blobs.push({ digest, size });
    report.bytes += size;
  }

  private async repositories(): Promise<string[]> {
    return (await this.listing.catalog(undefined, undefined)).items;
  }

  private async *walk(root: string) {
    try {
      yield* this.driver.walk(root);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
