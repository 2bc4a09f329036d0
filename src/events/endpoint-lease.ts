import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { isExists } from '../../storage-drivers/errors';
import { deleteIfExists, listNames } from '../oci/links';
import { paths } from '../oci/paths';

interface LeaseBody {
  owner: string;
  released?: boolean;
}

/**
 * Which process delivers to one endpoint, when several share the store: the holder of the newest of
 * the numbered files under `paths.eventLeases(endpoint)`. A generation is taken with
 * `createExclusive`, so of processes racing for it exactly one wins. The holder renews by taking the
 * next generation every quarter of `ttlMs`; the others take over once the newest generation has not
 * changed for `ttlMs` by their own monotonic clock (no comparison of clocks between machines), or at
 * once when the holder released it on a clean stop. A holder stalled past `ttlMs` may deliver beside
 * its successor for a moment: duplicates, which at-least-once allows, never a gap.
 */
export class EndpointLease {
  private mine?: number;
  private renewedAt = 0;
  private checkedAt = 0;
  private seen?: { gen: number; at: number };

  constructor(
    private readonly driver: StorageDriver,
    private readonly endpoint: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Whether this process delivers for the endpoint now; takes, renews or gives up the lease as needed. */
  async hold(): Promise<boolean> {
    // Asked before every segment: a holder that looked at storage moments ago need not list again.
    if (this.mine !== undefined && this.now() - this.checkedAt < this.ttlMs / 8) return true;
    const latest = await this.latest();
    if (this.mine !== undefined && latest === this.mine) {
      if (this.now() - this.renewedAt > this.ttlMs / 4) return this.take(latest + 1);
      this.checkedAt = this.now();
      return true;
    }
    this.mine = undefined;
    if (latest >= 0 && !(await this.released(latest))) {
      if (this.seen?.gen !== latest) {
        this.seen = { gen: latest, at: this.now() };
        return false;
      }
      if (this.now() - this.seen.at < this.ttlMs) return false;
    }
    return this.take(latest + 1);
  }

  /** On a clean stop: others may take over at once. */
  async release(): Promise<void> {
    if (this.mine === undefined) return;
    const gen = this.mine;
    this.mine = undefined;
    await this.create(gen + 1, { owner: this.owner, released: true }).catch(() => false);
  }

  private async take(gen: number): Promise<boolean> {
    if (!(await this.create(gen, { owner: this.owner }))) {
      this.mine = undefined;
      return false;
    }
    this.mine = gen;
    this.renewedAt = this.now();
    this.checkedAt = this.renewedAt;
    // Two generations stay, so that a reader listing during the switch still finds one.
    for (const old of await this.generations()) if (old < gen - 1) await deleteIfExists(this.driver, paths.eventLease(this.endpoint, old));
    return true;
  }

  private async create(gen: number, body: LeaseBody): Promise<boolean> {
    try {
      await this.driver.createExclusive(paths.eventLease(this.endpoint, gen), Buffer.from(JSON.stringify(body)));
      return true;
    } catch (err) {
      if (isExists(err)) return false;
      throw err;
    }
  }

  private async released(gen: number): Promise<boolean> {
    try {
      return (JSON.parse((await this.driver.getContent(paths.eventLease(this.endpoint, gen))).toString('utf8')) as LeaseBody).released === true;
    } catch {
      // Gone (renewed past) or unreadable: not a release, the usual wait applies.
      return false;
    }
  }

  private async generations(): Promise<number[]> {
    return (await listNames(this.driver, paths.eventLeases(this.endpoint))).filter((n) => /^\d+$/.test(n)).map(Number);
  }

  private async latest(): Promise<number> {
    return Math.max(-1, ...(await this.generations()));
  }
}
