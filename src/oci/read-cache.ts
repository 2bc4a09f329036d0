import { LRUCache } from 'lru-cache';
import { parseDigest, type Digest } from './digest';

/** The tables of mutable facts. */
export type Table = 'tags' | 'revisions' | 'layers' | 'tagLists';

/** A mutable fact to drop: one entry of a table, or (`'*'`) every mutable fact. */
export type Forget = { table: Table; key: string } | { table: '*' };

/** How a table's values travel to a shared cache and back. */
export interface Codec<V> {
  encode(value: V): string;
  decode(text: string): V;
}

/** A cache shared by every process (Redis): consulted on a local miss, told of every write. */
export interface SharedCache {
  read<V>(table: Table, key: string, codec: Codec<V>, load: () => Promise<V>): Promise<V>;
  /** Resolves once what the write changed can no longer be read from it (or it is unreachable). */
  forget(entries: readonly Forget[]): Promise<void>;
  /** A manifest's body by digest (content-addressed: never stale). */
  body(digest: string, load: () => Promise<ManifestBody>): Promise<ManifestBody>;
}

/**
 * The other processes whose caches must not outlive a write here (the workers of one group).
 * `forget` resolves once every one of them has dropped the entries (or can no longer serve).
 */
export interface CachePeers {
  forget(entries: Forget[]): Promise<void>;
  /** Where the peers' writes arrive: `apply` drops what they changed. */
  subscribe(apply: (entries: readonly Forget[]) => void): void;
}

export interface ReadCacheOptions {
  /**
   * How long an answer read from storage that another process could change (tag → digest, "this
   * repository links that digest", a tag list) may be reused, in ms. 0 re-reads storage every
   * time. Writes through this process update the cache at once whatever the value.
   */
  ttlMs: number;
  /** Entries per table; the least recently used go first. */
  maxEntries?: number;
  /** Total bytes of manifest bodies kept (content-addressed, so never stale). */
  maxManifestBytes?: number;
  now?: () => number;
  /** Told what a write here changed, before the write is acknowledged. */
  peers?: CachePeers;
  /** Asked before storage, and told of every write here before it is acknowledged. */
  shared?: SharedCache;
}

const DEFAULT_MAX_ENTRIES = 50_000;
const DEFAULT_MAX_MANIFEST_BYTES = 32 * 1024 * 1024;

/**
 * Facts trusted for `ttl` ms after they were read, at most `max` of them, the least recently used
 * out first. A ttl of 0 keeps nothing.
 *
 * A load that started before a write (or before a peer's invalidation arrived) may finish after it
 * with what storage held before; caching that would serve the old fact until the ttl. So every
 * key being loaded has a count of the writes to it since (`set`, `delete`, `clear` all count), and
 * `read` caches what it loaded only if none happened. Only keys with a load in progress are
 * tracked, so the bookkeeping is bounded by the concurrent loads, not by the keys ever written.
 */
// lru-cache stores only non-nullish values.
export class Expiring<V extends NonNullable<unknown>> {
  private readonly entries: LRUCache<string, V> | undefined;
  /** Keys with a load in progress: how many loads, and how many writes to the key since the first. */
  private readonly loading = new Map<string, { loads: number; writes: number }>();
  private clears = 0;

  constructor(
    ttl: number,
    max: number,
    now?: () => number,
    /** Where a local miss looks before storage. */
    private readonly shared?: { read(key: string, load: () => Promise<V>): Promise<V> },
  ) {
    // ttlResolution 0: expiry is exact, and no timer is set to age a cached clock reading.
    this.entries = ttl > 0 ? new LRUCache<string, V>({ max, ttl, ttlResolution: 0, ...(now && { perf: { now } }) }) : undefined;
  }

  get(key: string): V | undefined {
    return this.entries?.get(key);
  }

  /** The cached fact, or what `load` reads from storage, cached unless a write to the key raced it. */
  async read(key: string, fromStorage: () => Promise<V>): Promise<V> {
    const shared = this.shared;
    const load = shared ? () => shared.read(key, fromStorage) : fromStorage;
    const entries = this.entries;
    if (!entries) return load();
    const hit = entries.get(key);
    if (hit !== undefined) return hit;
    let slot = this.loading.get(key);
    if (!slot) this.loading.set(key, (slot = { loads: 0, writes: 0 }));
    slot.loads++;
    const writes = slot.writes;
    const clears = this.clears;
    try {
      const value = await load();
      if (slot.writes === writes && this.clears === clears) entries.set(key, value);
      return value;
    } finally {
      if (--slot.loads === 0) this.loading.delete(key);
    }
  }

  /** What a write made true: replaces the entry, and keeps a load that raced the write from caching. */
  set(key: string, value: V): void {
    this.wrote(key);
    this.entries?.set(key, value);
  }

  delete(key: string): void {
    this.wrote(key);
    this.entries?.delete(key);
  }

  clear(): void {
    this.clears++;
    this.entries?.clear();
  }

  private wrote(key: string): void {
    const slot = this.loading.get(key);
    if (slot) slot.writes++;
  }
}

export interface ManifestBody {
  bytes: Buffer;
  mediaType: string;
}

/**
 * Manifest bodies by digest, least recently used out first, bounded by total bytes; none may take
 * more than a sixteenth, so that one huge index cannot flush the rest. Content-addressed: no ttl.
 */
export function manifestBodies(maxBytes: number): LRUCache<string, ManifestBody> {
  return new LRUCache<string, ManifestBody>({
    maxSize: maxBytes,
    maxEntrySize: Math.max(1, Math.floor(maxBytes / 16)),
    sizeCalculation: (body) => Math.max(1, body.bytes.length),
  });
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
  readonly bodies: LRUCache<string, ManifestBody>;
  private readonly peers: CachePeers | undefined;

  private readonly shared: SharedCache | undefined;

  constructor(opts: ReadCacheOptions) {
    // With no ttl nothing mutable is kept anywhere, so there is nothing to tell.
    this.peers = opts.ttlMs > 0 ? opts.peers : undefined;
    opts.peers?.subscribe((entries) => this.apply(entries));
    const { now, shared } = opts;
    this.shared = shared;
    const through = <V>(table: Table, codec: Codec<V>) => shared && { read: (key: string, load: () => Promise<V>) => shared.read(table, key, codec, load) };
    const max = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.tags = new Expiring(opts.ttlMs, max, now, through('tags', DIGEST));
    this.revisions = new Expiring(opts.ttlMs, max, now, through('revisions', PRESENT));
    this.layers = new Expiring(opts.ttlMs, max, now, through('layers', LAYER));
    // A tag list can be 10,000 names: keep few of them.
    this.tagLists = new Expiring(opts.ttlMs, Math.min(max, 256), now, through('tagLists', JSON_LIST));
    this.bodies = manifestBodies(opts.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES);
  }

  /** A manifest's body: from this process's memory, the shared cache, or `load` (storage). */
  async body(digest: string, load: () => Promise<ManifestBody>): Promise<ManifestBody> {
    const cached = this.bodies.get(digest);
    if (cached) return cached;
    const body = await (this.shared ? this.shared.body(digest, load) : load());
    this.bodies.set(digest, body);
    return body;
  }

  /** Forgets every fact another writer may have changed (after a garbage collection, say). */
  forgetMutable(): void {
    this.tags.clear();
    this.revisions.clear();
    this.layers.clear();
    this.tagLists.clear();
  }

  /** Drops what a peer's write changed. */
  apply(entries: readonly Forget[]): void {
    for (const e of entries) {
      if (e.table === '*') this.forgetMutable();
      else this[e.table].delete(e.key);
    }
  }

  /** Makes the peers drop what a write here changed; resolves once they have. */
  async tellPeers(entries: Forget[]): Promise<void> {
    if (entries.length > 0) await Promise.all([this.peers?.forget(entries), this.shared?.forget(entries)]);
  }
}

export const forgetTags = (name: string, tags: readonly string[]): Forget[] =>
  tags.length === 0 ? [] : [...tags.map((tag) => ({ table: 'tags' as const, key: tagKey(name, tag) })), { table: 'tagLists', key: name }];

export const tagKey = (name: string, tag: string) => `${name}:${tag}`;
export const digestKey = (name: string, d: Digest) => `${name}@${d.value}`;

const DIGEST: Codec<Digest> = { encode: (d) => d.value, decode: parseDigest };
const PRESENT: Codec<true> = { encode: () => '1', decode: () => true };
// A shared cache may hold what something else wrote there: decoders check the shape and throw, which
// the shared cache takes as a miss.
const LAYER: Codec<LayerEntry> = {
  encode: (e) => JSON.stringify([e.size, e.canonical.value]),
  decode: (text) => {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || !Number.isSafeInteger(parsed[0]) || (parsed[0] as number) < 0 || typeof parsed[1] !== 'string') throw new Error('not a layer entry');
    return { size: parsed[0] as number, canonical: parseDigest(parsed[1]) };
  },
};
const JSON_LIST: Codec<string[]> = {
  encode: (list) => JSON.stringify(list),
  decode: (text) => {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || !parsed.every((t) => typeof t === 'string')) throw new Error('not a tag list');
    return parsed;
  },
};
