import { dirname } from 'node:path';
import { LRUCache } from 'lru-cache';

/**
 * Directories this process has seen exist, so that a write below one opens its file at once and a
 * new directory is made with one mkdir per missing level instead of probing (each probe is a trip
 * through the libuv pool and, when it fails, a thrown error). Advisory only: another process, or a
 * delete here, may have removed any of them, so every user falls back to probing on ENOENT.
 */
export class KnownDirs {
  /**
   * No ttl: a directory known here is only a first guess, which ENOENT corrects. Looking one up
   * counts as a use, so the directories of busy repositories stay while idle ones go first.
   */
  private readonly dirs: LRUCache<string, true>;

  /** `root` is never forgotten; `max` bounds the memory. */
  constructor(
    private readonly root: string,
    max = 10_000,
  ) {
    this.dirs = new LRUCache<string, true>({ max });
  }

  has(dir: string): boolean {
    return dir === this.root || this.known(dir);
  }

  /** Records `dir` and its ancestors (all of which exist when `dir` does). */
  learn(dir: string): void {
    for (let d = dir; d.length > this.root.length && !this.known(d); d = dirname(d)) this.dirs.set(d, true);
  }

  forget(dir: string): void {
    this.dirs.delete(dir);
  }

  /**
   * The directories to create, deepest first, from the nearest known ancestor of `dir` down to
   * `dir`; null when no ancestor is known (then a recursive mkdir is the cheaper probe).
   */
  missingBelowKnown(dir: string): string[] | null {
    const missing: string[] = [];
    for (let d = dir; !this.known(d); d = dirname(d)) {
      if (d.length <= this.root.length) return null;
      missing.push(d);
    }
    return missing;
  }

  private known(dir: string): boolean {
    return this.dirs.get(dir) !== undefined;
  }
}
