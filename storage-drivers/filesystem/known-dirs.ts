import { dirname } from 'node:path';

/**
 * Directories this process has seen exist, so that a write below one opens its file at once and a
 * new directory is made with one mkdir per missing level instead of probing (each probe is a trip
 * through the libuv pool and, when it fails, a thrown error). Advisory only: another process, or a
 * delete here, may have removed any of them, so every user falls back to probing on ENOENT.
 */
export class KnownDirs {
  private readonly dirs = new Set<string>();

  /** `root` is never forgotten; `max` bounds the memory (the set restarts empty when full). */
  constructor(
    private readonly root: string,
    private readonly max = 10_000,
  ) {}

  has(dir: string): boolean {
    return dir === this.root || this.dirs.has(dir);
  }

  /** Records `dir` and its ancestors (all of which exist when `dir` does). */
  learn(dir: string): void {
    if (this.dirs.size >= this.max) this.dirs.clear();
    for (let d = dir; d.length > this.root.length && !this.dirs.has(d); d = dirname(d)) this.dirs.add(d);
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
    for (let d = dir; !this.dirs.has(d); d = dirname(d)) {
      if (d.length <= this.root.length) return null;
      missing.push(d);
    }
    return missing;
  }
}
