import { LRUCache } from 'lru-cache';
import type { DirIndex } from './dir-index';

/**
 * Paths the directory indexes kept in memory may hold in all (default): a 1,000,000-file layer
 * is about 1,000,000 paths, and some 80 MiB as a DirIndex (bench/insight-dirs.ts).
 */
export const DEFAULT_MAX_PATHS = 3_000_000;

/**
 * The directory indexes of layers and images, built on first ask (a stored file list decodes at
 * about 1 s per million entries: too slow for every page) and kept, least recently used out, up to
 * `maxPaths` paths in all. A layer's list never changes once stored, so an index never goes stale.
 * Concurrent asks for one key share one build.
 */
export class DirIndexes {
  private readonly cache: LRUCache<string, DirIndex>;
  private readonly building = new Map<string, Promise<DirIndex>>();

  constructor(maxPaths = DEFAULT_MAX_PATHS) {
    this.cache = new LRUCache<string, DirIndex>({ maxSize: maxPaths, sizeCalculation: (index) => Math.max(1, index.nodes) });
  }

  async get(key: string, build: () => Promise<DirIndex>): Promise<DirIndex> {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let pending = this.building.get(key);
    if (pending === undefined) {
      pending = build().finally(() => this.building.delete(key));
      this.building.set(key, pending);
      // An index bigger than maxPaths is not kept (lru-cache refuses it): each ask builds it again.
      pending.then((index) => this.cache.set(key, index)).catch(() => undefined);
    }
    return pending;
  }
}
