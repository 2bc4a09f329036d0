import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError } from './errors';
import { paths, REPOSITORIES } from './paths';
import { exists, listNames } from './links';
import { ReadCache } from './read-cache';

export interface Page {
  items: string[];
  /** The last item returned, when more remain. */
  next?: string;
}

/** Sorted, then everything after `last`, at most `n` (all when n is undefined). */
export function paginate(sorted: string[], n: number | undefined, last: string | undefined): Page {
  let start = 0;
  if (last !== undefined) {
    // Binary search: the first item greater than `last`.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= last) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  if (n === undefined) return { items: sorted.slice(start) };
  const items = sorted.slice(start, start + n);
  const more = start + n < sorted.length && n > 0;
  return more ? { items, next: items[items.length - 1] } : { items };
}

/** Directory listings in flight at once while walking repositories. */
const LIST_WINDOW = 16;

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Listing {
  constructor(
    private readonly driver: StorageDriver,
    private readonly cache: ReadCache = new ReadCache({ ttlMs: 0 }),
  ) {}

  /** A page is a binary search and a slice of the sorted list, which is read once per cache period. */
  async tags(name: string, n: number | undefined, last: string | undefined): Promise<Page> {
    return paginate(await this.cache.tagLists.read(name, () => this.readTags(name)), n, last);
  }

  /** Whether anything is stored under the repository's name (a default mirror serves names that are not). */
  async repositoryExists(name: string): Promise<boolean> {
    return exists(this.driver, paths.repository(name));
  }

  private async readTags(name: string): Promise<string[]> {
    const tags = await listNames(this.driver, paths.tagsDir(name));
    if (tags.length === 0 && !(await exists(this.driver, paths.repository(name))))
      throw new DomainError('name-unknown', { name });
    return tags.sort(byteOrder);
  }

  /**
   * Repositories (directories holding `_manifests` or `_layers`, as Distribution counts them) in
   * path-component order, after `last`, at most `n`. The walk visits directories in that same order
   * and skips whole subtrees before `last`, so a page costs about one listing per repository it
   * returns instead of a walk of the whole store (which on S3 is a request per directory).
   */
  async catalog(n: number | undefined, last: string | undefined): Promise<Page> {
    const after = last?.split('/');
    const want = n === undefined ? Infinity : n + 1;
    const found: string[] = [];
    const list = (prefix: string[]) => listNames(this.driver, [REPOSITORIES, ...prefix].join('/'));
    const visit = async (prefix: string[], children: string[]): Promise<void> => {
      const name = prefix.join('/');
      if (prefix.length > 0 && (children.includes('_manifests') || children.includes('_layers')) && (!after || compareComponents(prefix, after) > 0))
        found.push(name);
      // Only a prefix of `last` can still hold names after it among the children below `last[depth]`.
      const onPath = after !== undefined && prefix.length < after.length && prefix.every((p, i) => p === after[i]);
      const next = children.filter((c) => !c.startsWith('_') && !(onPath && c < after[prefix.length]));
      // Listings are fetched a window at a time (one request each on S3) and visited in order.
      for (let i = 0; i < next.length && found.length < want; i += LIST_WINDOW) {
        const window = next.slice(i, i + LIST_WINDOW).map((c) => [...prefix, c]);
        const listings = await Promise.all(window.map(list));
        for (let j = 0; j < window.length && found.length < want; j++) await visit(window[j], listings[j]);
      }
    };
    await visit([], await list([]));
    if (found.length <= (n ?? Infinity)) return { items: found };
    const items = found.slice(0, n);
    return { items, next: items[items.length - 1] };
  }
}

/** Compares repository names component by component (the order of a sorted directory walk). */
function compareComponents(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}
