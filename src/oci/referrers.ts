import type { StorageDriver } from '../../storage-drivers/types';
import { parseDigest, type Digest } from './digest';
import { paths } from './paths';
import { deleteIfExists, exists, isFile, listNames, writeLink } from './links';
import { parseManifest, storedMediaType } from './manifest-parse';

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ReferrersPage {
  descriptors: ReferrerDescriptor[];
  /** Digest to continue after, when more remain. */
  next?: string;
}

/**
 * Referrers by subject, kept as links beside the repository's other links:
 * `_referrers/<alg>/<subject hex>/<alg>/<referrer hex>/link`. Entries are written when a manifest
 * with a subject is pushed and removed when it is deleted; a listing also skips entries whose
 * manifest revision is gone, so a crash between the two writes never shows a dangling referrer.
 * A repository written by Distribution has no index: the first listing builds it from the stored
 * manifests and then marks the repository as indexed. A read-only registry must not write, so it
 * keeps what it builds in memory instead (nothing can add referrers while it runs).
 */
export class ReferrerIndex {
  private readonly indexed = new Set<string>();
  /** Read-only: repository → subject digest → referrer digests found by building the index. */
  private readonly built = new Map<string, Map<string, Set<string>>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly readBytes: (d: Digest) => Promise<Buffer>,
    private readonly readOnly = false,
  ) {}

  add(name: string, subject: Digest, referrer: Digest): Promise<void> {
    return writeLink(this.driver, paths.referrerLink(name, subject, referrer), referrer);
  }

  async remove(name: string, subject: Digest, referrer: Digest): Promise<void> {
    await deleteIfExists(this.driver, paths.referrerLinkDir(name, subject, referrer));
  }

  async list(name: string, subject: Digest, opts: { artifactType?: string; n: number; last?: string }): Promise<ReferrersPage> {
    await this.ensureIndexed(name);
    const dir = paths.referrersDir(name, subject);
    const digests: string[] = [];
    for (const alg of await listNames(this.driver, dir))
      for (const hex of await listNames(this.driver, `${dir}/${alg}`)) digests.push(`${alg}:${hex}`);
    for (const value of this.built.get(name)?.get(subject.value) ?? []) if (!digests.includes(value)) digests.push(value);
    digests.sort();
    const descriptors: ReferrerDescriptor[] = [];
    let next: string | undefined;
    for (const value of digests) {
      if (opts.last !== undefined && value <= opts.last) continue;
      let digest: Digest;
      try {
        digest = parseDigest(value);
      } catch {
        continue;
      }
      if (!(await isFile(this.driver, paths.revisionLink(name, digest)))) continue;
      const descriptor = describe(digest, await this.readBytes(digest));
      if (opts.artifactType !== undefined && descriptor.artifactType !== opts.artifactType) continue;
      if (descriptors.length === opts.n) {
        next = descriptors[descriptors.length - 1].digest;
        break;
      }
      descriptors.push(descriptor);
    }
    return { descriptors, next };
  }

  private async ensureIndexed(name: string): Promise<void> {
    if (this.indexed.has(name)) return;
    if (!(await isFile(this.driver, paths.referrersIndexed(name)))) {
      const revisions = paths.revisionsDir(name);
      for (const alg of await listNames(this.driver, revisions))
        for (const hex of await listNames(this.driver, `${revisions}/${alg}`)) {
          let digest: Digest;
          let subject: Digest | undefined;
          try {
            digest = parseDigest(`${alg}:${hex}`);
            subject = parseManifest(await this.readBytes(digest), undefined).subject?.digest;
          } catch {
            continue; // not a manifest Berth can read: it cannot be a referrer either
          }
          if (subject && (await isFile(this.driver, paths.revisionLink(name, digest)))) await this.record(name, subject, digest);
        }
      if (!(await exists(this.driver, paths.repository(name)))) return;
      if (!this.readOnly) await this.driver.putContent(paths.referrersIndexed(name), Buffer.from(new Date().toISOString()));
    }
    this.indexed.add(name);
  }

  private async record(name: string, subject: Digest, referrer: Digest): Promise<void> {
    if (!this.readOnly) return this.add(name, subject, referrer);
    let subjects = this.built.get(name);
    if (!subjects) this.built.set(name, (subjects = new Map<string, Set<string>>()));
    let referrers = subjects.get(subject.value);
    if (!referrers) subjects.set(subject.value, (referrers = new Set()));
    referrers.add(referrer.value);
  }
}

function describe(digest: Digest, bytes: Buffer): ReferrerDescriptor {
  const mediaType = storedMediaType(bytes);
  const parsed = parseManifest(bytes, mediaType);
  const descriptor: ReferrerDescriptor = { mediaType, digest: digest.value, size: bytes.length };
  const artifactType = parsed.artifactType ?? (parsed.isIndex ? undefined : parsed.configMediaType);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  if (parsed.annotations !== undefined) descriptor.annotations = parsed.annotations;
  return descriptor;
}
