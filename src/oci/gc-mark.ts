import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from './digest';
import { paths } from './paths';
import { listNames, readLink } from './links';
import { parseManifest, type ParsedManifest } from './manifest-parse';
import { manifestKey } from './gc-sweep-state';

const REVISION_LINK = /\/_manifests\/revisions\/([a-z0-9]+)\/([0-9a-f]+)\/link$/;

/**
 * The marking half of garbage collection: which blob data and which manifests the repositories
 * reach. Blobs are named by the digest their data is stored under (the link's content).
 */
export class Marker {
  private readonly parsed = new Map<string, ParsedManifest | null>();

  constructor(private readonly driver: StorageDriver) {}

  /**
   * Marks what one repository's manifests reach. Every revision is a root, or with `deleteUntagged`
   * only what tags reach (through indexes and referrers) and revisions linked after `cutoff`; the
   * other revisions are appended to `untagged` as `repository@digest`. Returns the roots' count.
   */
  async repository(name: string, marked: Set<string>, deleteUntagged: boolean, cutoff: number, untagged: string[]): Promise<number> {
    const revisions: Digest[] = [];
    for (const alg of await listNames(this.driver, paths.revisionsDir(name)))
      for (const hex of await listNames(this.driver, `${paths.revisionsDir(name)}/${alg}`)) {
        try {
          revisions.push(parseDigest(`${alg}:${hex}`));
        } catch {
          // not a digest directory: nothing to mark
        }
      }

    let roots = revisions;
    if (deleteUntagged) {
      const reachable = new Set<string>();
      const queue: Digest[] = [];
      for (const tag of await listNames(this.driver, paths.tagsDir(name))) {
        const d = await readLink(this.driver, paths.tagCurrentLink(name, tag));
        if (d) queue.push(d);
      }
      // A referrer (signature, SBOM) lives as long as its subject does.
      const bySubject = new Map<string, Digest[]>();
      for (const d of revisions) {
        const subject = (await this.read(d))?.subject?.digest.value;
        if (subject) bySubject.set(subject, [...(bySubject.get(subject) ?? []), d]);
      }
      while (queue.length > 0) {
        const d = queue.pop()!;
        if (reachable.has(d.value)) continue;
        reachable.add(d.value);
        queue.push(...((await this.read(d))?.manifests ?? []), ...(bySubject.get(d.value) ?? []));
      }
      roots = [];
      for (const d of revisions) {
        const link = await this.driver.stat(paths.revisionLink(name, d)).catch(() => undefined);
        if (reachable.has(d.value) || (link && link.modTime.getTime() > cutoff)) roots.push(d);
        else untagged.push(manifestKey(name, d.value));
      }
    }
    for (const d of roots) await this.markManifest(name, d, marked);
    return roots.length;
  }

  /** Marks the blobs named by `_layers` links written after `since`. */
  async freshLinks(name: string, marked: Set<string>, since: number): Promise<void> {
    for await (const info of this.walk(paths.layersDir(name))) {
      if (info.isDir || !info.path.endsWith('/link') || info.modTime.getTime() <= since) continue;
      const d = await readLink(this.driver, info.path);
      if (d) marked.add(d.value);
    }
  }

  /**
   * Marks everything that links written after `since` make reachable: fresh `_layers` links, and
   * fresh revisions with their blobs and, through indexes, their child manifests (added to `kept`).
   * A manifest PUT rewrites its revision link every time, so a push that reused old content during
   * the collection shows up here however its blobs got into the repository (HEAD, mount, upload).
   */
  async writtenSince(repositories: string[], since: number, marked: Set<string>, kept: Set<string>): Promise<void> {
    for (const name of repositories) {
      await this.freshLinks(name, marked, since);
      for await (const info of this.walk(paths.revisionsDir(name))) {
        const m = REVISION_LINK.exec(info.path);
        if (!m || info.isDir || info.modTime.getTime() <= since) continue;
        await this.closure(name, parseDigest(`${m[1]}:${m[2]}`), marked, kept);
      }
    }
  }

  private async closure(name: string, root: Digest, marked: Set<string>, kept: Set<string>): Promise<void> {
    const queue = [root];
    while (queue.length > 0) {
      const d = queue.pop()!;
      if (kept.has(manifestKey(name, d.value))) continue;
      kept.add(manifestKey(name, d.value));
      queue.push(...((await this.markManifest(name, d, marked))?.manifests ?? []));
    }
  }

  /** Marks a manifest's own data and everything it references; returns it parsed (null if unreadable). */
  private async markManifest(name: string, d: Digest, marked: Set<string>): Promise<ParsedManifest | null> {
    marked.add(((await readLink(this.driver, paths.revisionLink(name, d))) ?? d).value);
    const m = await this.read(d);
    if (!m) return null;
    for (const b of m.blobs) marked.add(((await readLink(this.driver, paths.layerLink(name, b))) ?? b).value);
    for (const child of m.manifests) marked.add(child.value);
    if (m.subject) marked.add(m.subject.digest.value);
    return m;
  }

  /**
   * The manifest stored under `d`, or null when there is none or it does not parse. A missing one is
   * not remembered: a manifest PUT writes its revision link and its data together, so the mark may
   * list a revision before its data lands, and the sweep's re-read must then find the manifest that
   * the PUT completed meanwhile. Any other failure to read fails the collection: marking nothing for
   * a manifest that exists would delete what it references.
   */
  private async read(d: Digest): Promise<ParsedManifest | null> {
    if (this.parsed.has(d.value)) return this.parsed.get(d.value)!;
    let bytes: Buffer;
    try {
      bytes = await this.driver.getContent(paths.blobData(d));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    let m: ParsedManifest | null;
    try {
      m = parseManifest(bytes, undefined);
    } catch {
      m = null;
    }
    this.parsed.set(d.value, m);
    return m;
  }

  private async *walk(path: string) {
    try {
      yield* this.driver.walk(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
