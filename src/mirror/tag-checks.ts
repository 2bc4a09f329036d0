import { LRUCache } from 'lru-cache';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { paths } from '../oci/paths';

/** The upstream's digest for a mirrored tag, and when it was last confirmed (ms since the epoch). */
export interface TagCheck {
  digest: string;
  checkedAt: number;
}

const REMEMBERED = 10_000;

/**
 * When each mirrored tag was last checked with its upstream. Kept in storage, so that every replica
 * sharing it honours one `tagttl` (the upstream is asked once per tag and ttl, not once per
 * replica), and written without a sync: a record lost in a crash only causes one more HEAD. The
 * newest record this process read or wrote is remembered, so that a fresh tag costs no storage read.
 */
export class TagChecks {
  private readonly seen = new LRUCache<string, TagCheck>({ max: REMEMBERED });

  constructor(private readonly driver: StorageDriver) {}

  /** The last check, undefined when none is recorded (or the record is unreadable: it is rewritten). */
  async read(repository: string, tag: string, freshFor: number, now: number): Promise<TagCheck | undefined> {
    const key = `${repository}:${tag}`;
    const known = this.seen.get(key);
    if (known && now - known.checkedAt < freshFor) return known;
    let text: string;
    try {
      text = Buffer.from(await this.driver.getContent(paths.mirrorTagCheck(repository, tag))).toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const check = parse(text);
    if (check) this.seen.set(key, check);
    return check;
  }

  async record(repository: string, tag: string, check: TagCheck): Promise<void> {
    this.seen.set(`${repository}:${tag}`, check);
    await this.driver.putContent(paths.mirrorTagCheck(repository, tag), Buffer.from(JSON.stringify(check)), { durable: false });
  }
}

function parse(text: string): TagCheck | undefined {
  try {
    const v = JSON.parse(text) as Partial<TagCheck>;
    return typeof v.digest === 'string' && typeof v.checkedAt === 'number' ? { digest: v.digest, checkedAt: v.checkedAt } : undefined;
  } catch {
    return undefined;
  }
}
