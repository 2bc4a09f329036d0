import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from '../oci/digest';
import { DomainError } from '../oci/errors';
import { deleteIfExists, isFile, listNames, readLink } from '../oci/links';
import { parseManifest } from '../oci/manifest-parse';
import type { ManifestStore } from '../oci/manifests';
import { paths } from '../oci/paths';
import type { Findings } from './findings';

const LAYER_LINK = /\/_layers\/([a-z0-9]+)\/([0-9a-f]+)\/link$/;

/** The newest modification time (ms) of `path` and everything below it; 0 when it is gone. */
async function newest(driver: StorageDriver, path: string): Promise<number> {
  let t = 0;
  try {
    t = (await driver.stat(path)).modTime.getTime();
    for await (const info of driver.walk(path)) t = Math.max(t, info.modTime.getTime());
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return t;
}

/** Checks one repository's links, tags, manifests and upload sessions against the store. */
export class RepositoryChecker {
  constructor(
    private readonly driver: StorageDriver,
    private readonly manifests: ManifestStore,
    private readonly findings: Findings,
    private readonly isMirrored: (repository: string) => boolean,
  ) {}

  async check(name: string): Promise<void> {
    await this.layers(name);
    const revisions = await this.revisions(name);
    await this.tags(name, revisions);
    await this.uploads(name);
  }

  /** A link's digest; null when it is gone; undefined (after reporting it) when it holds no digest. */
  private async link(name: string, path: string): Promise<Digest | null | undefined> {
    try {
      return await readLink(this.driver, path);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      await this.findings.add({ kind: 'invalid-link', repository: name, path, detail: err.message });
      return undefined;
    }
  }

  private async layers(name: string): Promise<void> {
    const dangling: { dir: string; digest: Digest; touched: number }[] = [];
    try {
      for await (const info of this.driver.walk(paths.layersDir(name))) {
        if (info.isDir || !LAYER_LINK.test(info.path)) continue;
        const canonical = await this.link(name, info.path);
        if (canonical && !(await isFile(this.driver, paths.blobData(canonical))))
          dangling.push({ dir: info.path.slice(0, -'/link'.length), digest: canonical, touched: info.modTime.getTime() });
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // Repaired after the walk, so that deletions never shift the listing under it.
    for (const d of dangling)
      await this.findings.add(
        { kind: 'dangling-layer-link', repository: name, path: d.dir, detail: `blob ${d.digest.value} has no data` },
        { touched: d.touched, run: () => deleteIfExists(this.driver, d.dir) },
      );
  }

  /** Checks each manifest revision; returns the digests of those whose link exists. */
  private async revisions(name: string): Promise<Set<string>> {
    const present = new Set<string>();
    const root = paths.revisionsDir(name);
    for (const alg of await listNames(this.driver, root))
      for (const hex of await listNames(this.driver, `${root}/${alg}`)) {
        let d: Digest;
        try {
          d = parseDigest(`${alg}:${hex}`);
        } catch {
          continue; // not a revision directory
        }
        if ((await this.link(name, paths.revisionLink(name, d))) == null) continue;
        present.add(d.value);
        await this.manifest(name, d);
      }
    return present;
  }

  private async manifest(name: string, d: Digest): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await this.driver.getContent(paths.blobData(d));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const detail = `manifest ${d.value} has no data`;
      return this.findings.add({ kind: 'dangling-revision-link', repository: name, path: paths.revisionDir(name, d), detail });
    }
    let parsed;
    try {
      parsed = parseManifest(bytes, undefined);
    } catch (err) {
      const detail = `manifest ${d.value}: ${(err as Error).message}`;
      return this.findings.add({ kind: 'unreadable-manifest', repository: name, path: paths.blobData(d), detail });
    }
    if (this.isMirrored(name)) return;
    const missing = await this.manifests.missingReferences(name, parsed);
    if (missing.length > 0) {
      const detail = `manifest ${d.value} references missing ${missing.map((m) => m.value).join(', ')}`;
      await this.findings.add({ kind: 'manifest-missing-reference', repository: name, path: paths.revisionDir(name, d), detail });
    }
  }

  private async tags(name: string, revisions: Set<string>): Promise<void> {
    for (const tag of await listNames(this.driver, paths.tagsDir(name))) {
      const dir = paths.tagDir(name, tag);
      const current = paths.tagCurrentLink(name, tag);
      const d = await this.link(name, current);
      if (d === undefined) continue;
      if (d === null) {
        await this.findings.add(
          { kind: 'phantom-tag', repository: name, path: dir, detail: `tag "${tag}" has no current link` },
          { touched: await newest(this.driver, dir), run: () => deleteIfExists(this.driver, dir) },
        );
        continue;
      }
      // Read again: the revision may have been pushed after the revisions were listed.
      if (revisions.has(d.value) || (await isFile(this.driver, paths.revisionLink(name, d)))) continue;
      await this.findings.add(
        { kind: 'tag-missing-revision', repository: name, path: dir, detail: `tag "${tag}" names ${d.value}, which the repository does not hold` },
        { touched: await newest(this.driver, current), run: () => deleteIfExists(this.driver, dir) },
      );
    }
  }

  private async uploads(name: string): Promise<void> {
    for (const uuid of await listNames(this.driver, paths.uploadsDir(name))) {
      if (await isFile(this.driver, paths.uploadStartedAt(name, uuid))) continue;
      const dir = paths.uploadDir(name, uuid);
      await this.findings.add(
        { kind: 'upload-without-marker', repository: name, path: dir, detail: `upload session ${uuid} has no startedat marker` },
        { touched: await newest(this.driver, dir), run: () => deleteIfExists(this.driver, dir) },
      );
    }
  }
}
