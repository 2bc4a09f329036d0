import { randomBytes } from 'node:crypto';
import type { FileInfo, StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { hashStream, parseDigest, type Digest } from '../oci/digest';
import { deleteIfExists } from '../oci/links';
import { paths } from '../oci/paths';
import { createRegistry } from '../oci/registry';
import { type CheckReport, type Finding, Findings } from './findings';
import { checkInsight } from './insight';
import { RepositoryChecker } from './repository';

export interface CheckOptions {
  /** Fix what can be fixed safely (see FINDING_KINDS); otherwise nothing is written. */
  repair?: boolean;
  /** Hash every blob's bytes (reads the whole store). */
  verifyDigests?: boolean;
  /** ms: what changed more recently than this is never repaired, as it may be a write in progress (default 1 h). */
  repairAge?: number;
  now?: number;
  /**
   * Repositories a pull-through mirror fills on demand: a manifest there whose blobs were never
   * pulled is a cache not yet warm, not damage, so it is not reported.
   */
  isMirrored?: (repository: string) => boolean;
  /** Told how far the check is, often (per repository, per blob hashed): keep it cheap. */
  onProgress?: (p: CheckProgress) => void;
}

/** How far a check is: for a progress line (`berth check` on a terminal). */
export interface CheckProgress {
  repositories: number;
  repositoriesChecked: number;
  /** With verifyDigests: blobs hashed, and their bytes. */
  blobsVerified: number;
  bytesVerified: number;
}

const HOUR = 3_600_000;
const DIGEST_DATA = /\/blobs\/([a-z0-9]+)\/[0-9a-f]{2}\/([0-9a-f]+)\/data$/;
/** The latest Date there is: every leftover is older. */
const ANY_AGE = new Date(8.64e15);

/**
 * Walks a store through the driver contract and reports what is inconsistent: dangling links,
 * phantom tags, manifests that cannot be pulled, corrupt blobs (with verifyDigests), crash
 * leftovers, upload sessions without a marker and insight whose blob is gone. Read-only unless
 * `repair`.
 */
export async function checkStore(driver: StorageDriver, opts: CheckOptions = {}): Promise<CheckReport> {
  const now = opts.now ?? Date.now();
  const settledBefore = now - (opts.repairAge ?? HOUR);
  const findings = new Findings(opts.repair === true, settledBefore);
  const progress: CheckProgress = { repositories: 0, repositoriesChecked: 0, blobsVerified: 0, bytesVerified: 0 };
  const tell = opts.onProgress === undefined ? () => undefined : () => opts.onProgress!(progress);

  await checkLeftovers(driver, findings, opts.repair === true, settledBefore);
  // Before the repositories, so that links to the data a repair deletes are seen dangling.
  const hashed = (bytes: number) => {
    progress.blobsVerified++;
    progress.bytesVerified += bytes;
    tell();
  };
  const blobsVerified = opts.verifyDigests ? await verifyBlobs(driver, findings, hashed) : 0;

  // The secret signs upload state, which a check never hands out.
  const registry = createRegistry(driver, { secret: randomBytes(32) });
  const repositories = (await registry.listing.catalog(undefined, undefined)).items;
  const checker = new RepositoryChecker(driver, registry.manifests, findings, opts.isMirrored ?? (() => false));
  progress.repositories = repositories.length;
  for (const name of repositories) {
    await checker.check(name);
    progress.repositoriesChecked++;
    tell();
  }
  await checkInsight(driver, findings);
  return findings.report(repositories.length, blobsVerified);
}

async function checkLeftovers(driver: StorageDriver, findings: Findings, repair: boolean, settledBefore: number): Promise<void> {
  const finding = (l: FileInfo): Finding => ({
    kind: 'temp-leftover',
    path: l.path,
    detail: `${l.size} bytes, last modified ${l.modTime.toISOString()}`,
  });
  const purge = () => driver.purgeLeftovers(new Date(settledBefore));
  // The driver removes leftovers only as a batch older than a cutoff: the old ones go at once.
  for (const l of repair ? await purge() : []) await findings.add(finding(l), { touched: 0, run: async () => undefined });
  for (const l of await driver.purgeLeftovers(ANY_AGE, { dryRun: true }))
    await findings.add(finding(l), { touched: l.modTime.getTime(), run: purge });
}

/** Streams every blob through its digest's hash; returns how many were hashed. */
async function verifyBlobs(driver: StorageDriver, findings: Findings, hashed: (bytes: number) => void): Promise<number> {
  let verified = 0;
  const corrupt: { digest: Digest; actual: string }[] = [];
  try {
    for await (const info of driver.walk(paths.blobsRoot)) {
      const m = DIGEST_DATA.exec(info.path);
      if (!m || info.isDir) continue;
      let digest: Digest;
      try {
        digest = parseDigest(`${m[1]}:${m[2]}`);
      } catch {
        continue; // not a blob Berth could have stored
      }
      const actual = await hashOf(driver, info.path, digest);
      if (actual === null) continue;
      verified++;
      hashed(info.size);
      if (actual !== digest.hex) corrupt.push({ digest, actual: `${digest.algorithm}:${actual}` });
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  for (const { digest, actual } of corrupt)
    await findings.add(
      { kind: 'corrupt-blob', path: paths.blobData(digest), detail: `the bytes of ${digest.value} hash to ${actual}` },
      // Blob data only ever appears whole (by move or atomic put), so there is no write in progress to spare.
      { touched: 0, run: () => deleteIfExists(driver, paths.blobDir(digest)) },
    );
  return verified;
}

/** Hex digest of the file's bytes, streamed; null when it disappeared meanwhile. */
async function hashOf(driver: StorageDriver, path: string, digest: Digest): Promise<string | null> {
  try {
    return (await hashStream(await driver.reader(path), [digest.algorithm]))[digest.algorithm]!;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}
