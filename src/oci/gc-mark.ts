import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { parseDigest, type Digest } from './digest';
import { paths } from './paths';
import { listNames, readLink } from './links';
import { parseManifest, type ParsedManifest } from './manifest-parse';
import { manifestKey } from './gc-sweep-state';
import { mapBounded } from './bounded';

const REVISION_LINK = /\/_manifests\/revisions\/([a-z0-9]+)\/([0-9a-f]+)\/link$/;
const LAYER_LINK = /\/_layers\/([a-z0-9]+)\/([0-9a-f]+)\/link$/;
/** Reads (manifests, links) in flight at once for one repository. */
const READ_WINDOW = 16;

export interface RepositoryMark {
  /** Manifests marked as roots. */
  roots: number;
  /** With `deleteUntagged`, the revisions nothing keeps, as `repository@digest`, in walk order. */
  untagged: string[];
}

/**
 * The marking half of garbage collection: which blob data and which manifests the repositories
 * reach. Blobs are named by the digest their data is stored under (the link's content). Every
 * method may run for several repositories at once: they only add to the sets they are given.
 *
 * On S3 every read is a round trip, so a repository costs a listing of its revisions and one of its
 * layer links (a walk is one flat listing there, with each link's modification time), a GET per
 * manifest, and little else: a sha256 link always names its own digest (Distribution stores every
 * blob and manifest by sha256), so the digest in its path is its content and it is not read.
 */
export class Marker {
  /**
   * Manifests read so far, by digest. One that could not be read is not remembered: a manifest PUT
   * writes its revision link and its data together, so the mark may list a revision before its data
   * lands, and the sweep's re-read must then find the manifest that the PUT completed meanwhile.
   */
  private readonly parsed = new Map<string, Promise<ParsedManifest | null>>();

  constructor(private readonly driver: StorageDriver) {}

  /**
   * Marks what one repository's manifests reach. Every revision is a root, or with `deleteUntagged`
   * only what tags reach (through indexes and referrers) and revisions linked after `cutoff`; the
   * other revisions are returned as untagged. `evicted` (digests a cache policy removes) are never
   * roots, and tags reach nothing through them.
   */
  async repository(name: string, marked: Set<string>, deleteUntagged: boolean, cutoff: number, evicted: ReadonlySet<string> = new Set()): Promise<RepositoryMark> {
    const listed = await this.revisions(name);
    const linked = listed.linked;
    const revisions = listed.revisions.filter((d) => !evicted.has(d.value));
    let roots = revisions;
    const untagged: string[] = [];
    if (deleteUntagged) {
      const reachable = new Set<string>();
      const tags = await listNames(this.driver, paths.tagsDir(name));
      const queue = (await mapBounded(tags, READ_WINDOW, (tag) => readLink(this.driver, paths.tagCurrentLink(name, tag)))).filter((d): d is Digest => d !== null);
      // A referrer (signature, SBOM) lives as long as its subject does.
      const bySubject = new Map<string, Digest[]>();
      const manifests = await mapBounded(revisions, READ_WINDOW, (d) => this.read(d));
      revisions.forEach((d, i) => {
        const subject = manifests[i]?.subject?.digest.value;
        if (subject) bySubject.set(subject, [...(bySubject.get(subject) ?? []), d]);
      });
      while (queue.length > 0) {
        const d = queue.pop()!;
        if (reachable.has(d.value) || evicted.has(d.value)) continue;
        reachable.add(d.value);
        queue.push(...((await this.read(d))?.manifests ?? []), ...(bySubject.get(d.value) ?? []));
      }
      roots = [];
      for (const d of revisions) {
        const at = linked.get(d.value);
        if (reachable.has(d.value) || (at !== undefined && at > cutoff)) roots.push(d);
        else untagged.push(manifestKey(name, d.value));
      }
    }
    await mapBounded(roots, READ_WINDOW, (d) => this.markManifest(name, d, marked));
    return { roots: roots.length, untagged };
  }

  /**
   * The repository's revisions in walk order (every entry two levels below `revisions`, as a listing
   * of each level would give them), and when each one's link was written.
   */
  private async revisions(name: string): Promise<{ revisions: Digest[]; linked: Map<string, number> }> {
    const root = paths.revisionsDir(name);
    const revisions: Digest[] = [];
    const linked = new Map<string, number>();
    for await (const info of this.walk(root)) {
      const parts = info.path.slice(root.length + 1).split('/');
      if (parts.length === 2) {
        try {
          revisions.push(parseDigest(`${parts[0]}:${parts[1]}`));
        } catch {
          // not a digest directory: nothing to mark
        }
      } else if (parts.length === 3 && parts[2] === 'link' && !info.isDir) linked.set(`${parts[0]}:${parts[1]}`, info.modTime.getTime());
    }
    return { revisions, linked };
  }

  /** Marks the blobs named by `_layers` links written after `since`. */
  async freshLinks(name: string, marked: Set<string>, since: number): Promise<void> {
    const unnamed: string[] = [];
    for await (const info of this.walk(paths.layersDir(name))) {
      const m = LAYER_LINK.exec(info.path);
      if (!m || info.isDir || info.modTime.getTime() <= since) continue;
      if (m[1] === 'sha256') marked.add(`sha256:${m[2]}`);
      else unnamed.push(info.path);
    }
    for (const d of await mapBounded(unnamed, READ_WINDOW, (path) => readLink(this.driver, path))) if (d) marked.add(d.value);
  }

  /**
   * Marks everything that links written after `since` make reachable: fresh `_layers` links, and
   * fresh revisions with their blobs and, through indexes, their child manifests (added to `kept`).
   * A manifest PUT rewrites its revision link every time, so a push that reused old content during
   * the collection shows up here however its blobs got into the repository (HEAD, mount, upload).
   */
  async writtenSince(name: string, since: number, marked: Set<string>, kept: Set<string>): Promise<void> {
    const fresh: Digest[] = [];
    await this.freshLinks(name, marked, since);
    for await (const info of this.walk(paths.revisionsDir(name))) {
      const m = REVISION_LINK.exec(info.path);
      if (m && !info.isDir && info.modTime.getTime() > since) fresh.push(parseDigest(`${m[1]}:${m[2]}`));
    }
    await mapBounded(fresh, READ_WINDOW, (d) => this.closure(name, d, marked, kept));
  }

  /** Marks a manifest, its blobs and its index children as kept (a fresh revision, or a manifest pulled during the sweep). */
  async closure(name: string, root: Digest, marked: Set<string>, kept: Set<string>): Promise<void> {
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
    const [stored, m] = await Promise.all([this.storedAs(paths.revisionLink(name, d), d), this.read(d)]);
    marked.add(stored.value);
    if (!m) return null;
    for (const b of await mapBounded(m.blobs, READ_WINDOW, (b) => this.storedAs(paths.layerLink(name, b), b))) marked.add(b.value);
    for (const child of m.manifests) marked.add(child.value);
    if (m.subject) marked.add(m.subject.digest.value);
    return m;
  }

  /** The digest the data that `link` (for `d`) leads to is stored under: `d` itself for sha256. */
  private async storedAs(link: string, d: Digest): Promise<Digest> {
    return d.algorithm === 'sha256' ? d : ((await readLink(this.driver, link)) ?? d);
  }

  /**
   * The manifest stored under `d`, or null when there is none or it does not parse. Any other
   * failure to read it fails the collection: marking nothing for a manifest that exists would
   * delete what it references.
   */
  private read(d: Digest): Promise<ParsedManifest | null> {
    let reading = this.parsed.get(d.value);
    if (!reading) {
      reading = this.driver.getContent(paths.blobData(d)).then(
        (bytes) => {
          try {
            return parseManifest(bytes, undefined);
          } catch {
            return null;
          }
        },
        (err: unknown) => {
          this.parsed.delete(d.value);
          if (isNotFound(err)) return null;
          throw err;
        },
      );
      this.parsed.set(d.value, reading);
    }
    return reading;
  }

  private async *walk(path: string) {
    try {
      yield* this.driver.walk(path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
