import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest, type Digest } from '../oci/digest';
import { Lease, type LeaseKind, type LeaseOwnership, type LeaseTimings } from '../oci/lease';
import { deleteIfExists, isFile, listNames, readLink } from '../oci/links';
import { paths } from '../oci/paths';

/** Another process analyses the layer now (its claim is live): this one leaves the job alone. */
export class ClaimBusy extends Error {
  override readonly name = 'ClaimBusy';
}

/** This process's claim was taken over or not renewed in time: it must not write the record. */
export class ClaimLost extends Error {
  override readonly name = 'ClaimLost';
}

/**
 * Renewed every 5 s; the holder stops writing once 20 s passed without a renewal, and another
 * process takes a dead holder's job (SIGKILL, a lost machine) over after 60 s. A renewal is a write
 * and a listing: cheap beside the scan of a layer.
 */
export const CLAIM_TIMINGS: LeaseTimings = { ttlMs: 60_000, renewMs: 5_000, fenceMs: 20_000 };

function claimKind(d: Digest): LeaseKind {
  return {
    dir: paths.insightClaims(d),
    // One operation to release, and a claim left behind only by a holder that died (and expires).
    releaseByDelete: true,
    path: (n) => paths.insightClaim(d, n),
    // A machine's crash ends its holders; a claim lost with it only lets another take over sooner.
    durable: false,
    holder: 'analyser',
    busy: (why) => new ClaimBusy(`another analyser ${why}`),
    lost: (why) => new ClaimLost(`the analysis of ${d.value} stopped: ${why}`),
  };
}

const JOB_NAME = /^(sha256|sha512)-([0-9a-f]+)$/;

/**
 * The analysis queue in storage (docs/architecture.md, "Image insight: analysis in storage"): an
 * empty marker per blob waiting for analysis, which any process sharing the store may take, and
 * per job the numbered claims (leases) that make exactly one of racing processes analyse it.
 */
export class AnalysisQueue {
  constructor(
    private readonly driver: StorageDriver,
    private readonly timings: LeaseTimings = CLAIM_TIMINGS,
    private readonly ownership: LeaseOwnership = {},
  ) {}

  /**
   * Queues the blob: one write, not flushed. A marker a machine's crash loses costs a late
   * analysis, not none: whoever asks for the record (awaitRecord) queues it again.
   */
  async add(d: Digest): Promise<void> {
    await this.driver.putContent(paths.insightJob(d), new Uint8Array(0), { durable: false });
  }

  async has(d: Digest): Promise<boolean> {
    return isFile(this.driver, paths.insightJob(d));
  }

  /** The queued blobs, in storage's (lexical, so random) order; names that are not jobs are skipped. */
  async list(): Promise<Digest[]> {
    const jobs: Digest[] = [];
    for (const name of await listNames(this.driver, paths.insightQueue)) {
      const match = JOB_NAME.exec(name);
      if (match === null) continue;
      try {
        jobs.push(parseDigest(`${match[1]}:${match[2]}`));
      } catch {
        // Not a digest: not ours to read, nor to remove.
      }
    }
    return jobs;
  }

  /**
   * Takes the job's claim; ClaimBusy when another process holds it or wins the race. `takeOver`:
   * also from a live holder with the ownership's `takeOverTag` (`lease.tookOverFrom` says whom).
   * That holder may still write the same record once it runs again (analysis is deterministic, and
   * the record one atomic put); it stops at its next renewal, which finds its claim gone.
   */
  claim(d: Digest, takeOver = false): Promise<Lease> {
    const { tag, takeOverTag } = this.ownership;
    return Lease.acquire(this.driver, claimKind(d), this.timings, { tag, ...(takeOver && { takeOverTag }) });
  }

  /**
   * After the record is written: the markers go first (a job left with no claim is only taken
   * again and found done), then the claims, whose directory the lease must not make again.
   */
  async finish(markers: Digest[], canonical: Digest, lease: Lease | undefined): Promise<void> {
    for (const d of markers) await deleteIfExists(this.driver, paths.insightJob(d));
    await lease?.end();
    await deleteIfExists(this.driver, paths.insightClaims(canonical));
  }

  /**
   * Where the blob `d` names is stored: its own path for sha256, or the sha256 its upload's alias
   * names (blobs.ts stores every blob under its sha256); null when neither is known.
   */
  async canonicalOf(d: Digest): Promise<Digest | null> {
    if (d.algorithm === 'sha256') return d;
    if (await isFile(this.driver, paths.blobData(d))) return d;
    return readLink(this.driver, paths.blobAlias(d));
  }
}
