import type { Digest } from './digest';

export interface ReadCacheOptions {
  /**
   * How long an answer read from storage that another process could change (tag → digest, "this
   * repository links that digest", a tag list) may be reused, in ms. 0 re-reads storage every
   * time. Writes through this process update the cache at once whatever the value.
   */
  ttlMs: number;
  /** Entries per table; the oldest go first. */
  maxEntries?: number;
  /** Total bytes of manifest bodies kept (content-addressed, so never stale). */
  maxManifestBytes?: number;
  now?: () => number;
}

const DEFAULT_MAX_ENTRIES = 50_000;
const DEFAULT_MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

/** A bounded map whose entries are trusted for `ttl` ms after they were read. */
export class Expiring<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttl: number,
    private readonly max: number,
    private readonly now: () => number,
  ) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.until > this.now()) return e.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    if (this.ttl <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, until: this.now() + this.ttl });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface ManifestBody {
  bytes: Buffer;
  mediaType: string;
}

/** Manifest bodies by digest, least recently used out first, bounded by total bytes. */
export class ManifestBodies {
  private readonly entries = new Map<string, ManifestBody>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(digest: string): ManifestBody | undefined {
    const e = this.entries.get(digest);
    if (e !== undefined) {
      this.entries.delete(digest);
      this.entries.set(digest, e);
    }
    return e;
  }

  set(digest: string, body: ManifestBody): void {
    if (body.bytes.length > this.maxBytes / 16 || this.entries.has(digest)) return;
    this.entries.set(digest, body);
    this.bytes += body.bytes.length;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.bytes.length;
    }
  }
}

export interface LayerEntry {
  size: number;
  canonical: Digest;
}

/**
 * What the read paths may answer without storage. Content-addressed facts (a manifest's bytes) are
 * kept until evicted; facts another replica can change are kept `ttlMs` at most, which is the bound
 * on how long a replica can serve a tag another replica moved or a manifest it deleted.
 */
export class ReadCache {
  readonly tags: Expiring<Digest>;
  readonly revisions: Expiring<true>;
  readonly layers: Expiring<LayerEntry>;
  readonly tagLists: Expiring<string[]>;
  readonly bodies: ManifestBodies;

  constructor(opts: ReadCacheOptions) {
    const now = opts.now ?? Date.now;
    const max = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.tags = new Expiring(opts.ttlMs, max, now);
    this.revisions = new Expiring(opts.ttlMs, max, now);
    this.layers = new Expiring(opts.ttlMs, max, now);
    // A tag list can be 10,000 names: keep few of them.
    this.tagLists = new Expiring(opts.ttlMs, Math.min(max, 256), now);
    this.bodies = new ManifestBodies(opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES);
  }

  /** Forgets every fact another writer may have changed (after a garbage collection, say). */
  forgetMutable(): void {
    this.tags.clear();
    this.revisions.clear();
    this.layers.clear();
    this.tagLists.clear();
  }
}

export const tagKey = (name: string, tag: string) => `${name}:${tag}`;
export const digestKey = (name: string, d: Digest) => `${name}@${d.value}`;
