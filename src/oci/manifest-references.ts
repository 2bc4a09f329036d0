import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError, isDomainError } from './errors';
import type { Digest } from './digest';
import { paths } from './paths';
import { fileSize, readLink } from './links';
import type { ParsedManifest } from './manifest-parse';
import type { BlobStore } from './blobs';

/** References checked at once: enough to overlap storage latency, few enough that other requests get their turn. */
const REFERENCE_BATCH = 64;

interface Reference {
  d: Digest;
  /** The digest its data is stored under, or null when it is not usable in the repository. */
  canonical: string | null;
}

/**
 * Which of the blobs and child manifests a manifest references a repository holds: a push needs
 * all of them, a mirror's manifest those present (to fence them), and `berth check` the missing ones.
 */
export class ManifestReferences {
  constructor(
    private readonly driver: StorageDriver,
    private readonly blobs: BlobStore,
  ) {}

  /**
   * Every referenced blob and child manifest must be linked in the repository and its data present:
   * a link whose data is gone (Distribution's garbage collector leaves such links) would make a
   * manifest that cannot be pulled. Returns their stored digests.
   */
  async required(name: string, parsed: ParsedManifest): Promise<string[]> {
    const found = await this.lookUp(name, parsed);
    const unknown = found.find((r) => r.canonical === null);
    if (unknown) throw new DomainError('manifest-blob-unknown', { digest: unknown.d.value });
    return found.map((r) => r.canonical!);
  }

  /** The stored digests of the referenced blobs and child manifests this repository already holds. */
  async present(name: string, parsed: ParsedManifest): Promise<string[]> {
    return (await this.lookUp(name, parsed)).flatMap((r) => (r.canonical === null ? [] : [r.canonical]));
  }

  /** The referenced blobs and child manifests that are not linked in the repository with their data present. */
  async missing(name: string, parsed: ParsedManifest): Promise<Digest[]> {
    return (await this.lookUp(name, parsed)).filter((r) => r.canonical === null).map((r) => r.d);
  }

  private async lookUp(name: string, parsed: ParsedManifest): Promise<Reference[]> {
    const blob = (d: Digest) => this.blobs.stat(name, d).then(({ canonical }) => ({ d, canonical: canonical.value }), (err: unknown) => {
      if (isDomainError(err, 'blob-unknown')) return { d, canonical: null };
      throw err;
    });
    const manifest = async (d: Digest) => {
      const canonical = (await readLink(this.driver, paths.revisionLink(name, d))) ?? null;
      return { d, canonical: canonical && (await fileSize(this.driver, paths.blobData(canonical))) !== null ? canonical.value : null };
    };
    const found: Reference[] = [];
    // A digest named many times is checked once; the rest go in batches so that one wide manifest
    // neither floods storage with calls nor holds the event loop while thousands of them settle.
    const checks = [...unique(parsed.blobs).map((d) => () => blob(d)), ...unique(parsed.manifests).map((d) => () => manifest(d))];
    for (let i = 0; i < checks.length; i += REFERENCE_BATCH) {
      // A store that answers without I/O (memory, a warm cache) would otherwise never let go.
      if (i > 0) await yieldToEventLoop();
      found.push(...(await Promise.all(checks.slice(i, i + REFERENCE_BATCH).map((check) => check()))));
    }
    return found;
  }
}

function unique(digests: Digest[]): Digest[] {
  return [...new Map(digests.map((d) => [d.value, d])).values()];
}
