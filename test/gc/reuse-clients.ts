import assert from 'node:assert/strict';
import { getBytes, imageManifest, randomBlob, sha256 } from '../durability/push-client';

/**
 * Clients that keep pushing images whose layers are old and orphaned (their manifests deleted), each
 * layer brought into the new image one of the three ways a client does it: a HEAD in a repository
 * that links it (and no upload when it answers 200), its bytes uploaded again into a new repository,
 * or a mount from a repository that links it (an upload when the mount is refused). Half of the
 * images are deleted again at once, so that their fresh layers join the orphans.
 */
export type Way = 'head' | 'upload' | 'mount';
const WAYS: readonly Way[] = ['head', 'upload', 'mount'];

interface PoolLayer {
  digest: string;
  bytes: Buffer;
  /** A repository that linked the layer when it was last pushed. */
  home: string;
}

/** An image whose manifest PUT answered 201 and that no client deleted: it must pull completely. */
export interface Acknowledged {
  repo: string;
  tag: string;
  digest: string;
  blobs: string[];
}

export interface ReuseStats {
  pushes: Record<Way, number>;
  /** Manifest PUTs refused with an honest answer (a blob the collection took first, or 503 to retry). */
  refused: number;
  /** HEADs that found the layer collected, and mounts that were refused. */
  collectedFirst: number;
  deleted: number;
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export class ReuseClients {
  readonly acknowledged: Acknowledged[] = [];
  readonly stats: ReuseStats = { pushes: { head: 0, upload: 0, mount: 0 }, refused: 0, collectedFirst: 0, deleted: 0 };
  private readonly pool: PoolLayer[] = [];
  private seq = 0;

  constructor(private readonly base: string) {}

  /** `count` images pushed and deleted: their layers are the first orphans. */
  async seed(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const layer = this.fresh(`seed/${i}`);
      await this.upload(layer.home, layer.bytes);
      const { status, digest } = await this.putImage(layer.home, 'seed', [layer]);
      assert.equal(status, 201);
      await this.deleteManifest(layer.home, digest);
      this.pool.push(layer);
    }
  }

  /** Runs `clients` loops of pushes until `until()` is true. */
  async run(clients: number, until: () => boolean): Promise<void> {
    await Promise.all(Array.from({ length: clients }, async () => {
      while (!until()) await this.pushOne();
    }));
  }

  private fresh(home: string): PoolLayer {
    const bytes = randomBlob(1000, 4000);
    return { digest: sha256(bytes), bytes, home };
  }

  private async pushOne(): Promise<void> {
    const n = ++this.seq;
    const way = WAYS[n % WAYS.length];
    const reused = this.pool[Math.floor(Math.random() * this.pool.length)];
    const repo = way === 'head' ? reused.home : `reuse/${way}-${n}`;
    if (way === 'head') {
      const head = await fetch(`${this.base}/v2/${repo}/blobs/${reused.digest}`, { method: 'HEAD' });
      assert.ok(head.status === 200 || head.status === 404, `HEAD answered ${head.status}`);
      if (head.status === 404) {
        this.stats.collectedFirst++;
        await this.upload(repo, reused.bytes);
      }
    } else if (way === 'upload') {
      await this.upload(repo, reused.bytes);
    } else {
      const mount = await fetch(`${this.base}/v2/${repo}/blobs/uploads/?mount=${reused.digest}&from=${reused.home}`, { method: 'POST' });
      assert.ok(mount.status === 201 || mount.status === 202, `mount answered ${mount.status}`);
      if (mount.status === 202) {
        this.stats.collectedFirst++;
        await fetch(new URL(mount.headers.get('location')!, this.base), { method: 'DELETE' });
        await this.upload(repo, reused.bytes);
      }
    }
    const own = this.fresh(repo);
    await this.upload(repo, own.bytes);
    const { status, digest, blobs } = await this.putImage(repo, `t${n}`, [reused, own]);
    this.stats.pushes[way]++;
    if (status !== 201) {
      assert.ok(status === 400 || status === 503, `manifest PUT answered ${status}`);
      this.stats.refused++;
      return;
    }
    this.pool.push(own);
    reused.home = repo;
    if (Math.random() < 0.5) {
      await this.deleteManifest(repo, digest);
      this.stats.deleted++;
    } else this.acknowledged.push({ repo, tag: `t${n}`, digest, blobs });
  }

  private async upload(repo: string, bytes: Buffer): Promise<void> {
    const res = await fetch(`${this.base}/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, { method: 'POST', body: bytes });
    assert.equal(res.status, 201, `upload into ${repo} answered ${res.status}: ${await res.text()}`);
  }

  private async putImage(repo: string, tag: string, layers: PoolLayer[]): Promise<{ status: number; digest: string; blobs: string[] }> {
    const config = randomBlob(100, 200);
    await this.upload(repo, config);
    const configDigest = sha256(config);
    const manifest = imageManifest({ digest: configDigest, size: config.length }, layers.map((l) => ({ digest: l.digest, size: l.bytes.length })));
    const res = await fetch(`${this.base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifest, headers: { 'Content-Type': MANIFEST } });
    await res.arrayBuffer();
    return { status: res.status, digest: sha256(manifest), blobs: [configDigest, ...layers.map((l) => l.digest)] };
  }

  private async deleteManifest(repo: string, digest: string): Promise<void> {
    assert.equal((await fetch(`${this.base}/v2/${repo}/manifests/${digest}`, { method: 'DELETE' })).status, 202);
  }

  /** What of the acknowledged images does not pull completely (tag, manifest bytes, every blob's bytes). */
  async broken(): Promise<string[]> {
    const broken: string[] = [];
    for (const image of this.acknowledged) {
      const m = await getBytes(`${this.base}/v2/${image.repo}/manifests/${image.tag}`);
      if (m.status !== 200 || sha256(m.body) !== image.digest) broken.push(`${image.repo}:${image.tag} manifest ${m.status}`);
      for (const d of image.blobs) {
        const b = await getBytes(`${this.base}/v2/${image.repo}/blobs/${d}`);
        if (b.status !== 200 || sha256(b.body) !== d) broken.push(`${image.repo}:${image.tag} blob ${d} ${b.status}`);
      }
    }
    return broken;
  }
}
