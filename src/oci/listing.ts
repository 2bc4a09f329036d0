import type { StorageDriver } from '../../storage-drivers/types';
import { OciError } from './errors';
import { paths, REPOSITORIES } from './paths';
import { exists, listNames } from './links';

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

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class Listing {
  constructor(private readonly driver: StorageDriver) {}

  async tags(name: string, n: number | undefined, last: string | undefined): Promise<Page> {
    const tags = await listNames(this.driver, paths.tagsDir(name));
    if (tags.length === 0 && !(await exists(this.driver, paths.repository(name))))
      throw new OciError('NAME_UNKNOWN', { name });
    return paginate(tags.sort(byteOrder), n, last);
  }

  /** Every repository (a directory holding `_manifests` or `_layers`, as Distribution counts them), at any depth. */
  async repositories(): Promise<string[]> {
    const found: string[] = [];
    const visit = async (prefix: string): Promise<void> => {
      const children = await listNames(this.driver, prefix === '' ? REPOSITORIES : `${REPOSITORIES}/${prefix}`);
      if (prefix !== '' && (children.includes('_manifests') || children.includes('_layers'))) found.push(prefix);
      for (const child of children) if (!child.startsWith('_')) await visit(prefix === '' ? child : `${prefix}/${child}`);
    };
    await visit('');
    return found.sort(byteOrder);
  }

  async catalog(n: number | undefined, last: string | undefined): Promise<Page> {
    return paginate(await this.repositories(), n, last);
  }
}
