import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { isExists, isNotFound } from '../../storage-drivers/errors';
import { storageNow } from './storage-clock';
import { leaseNumber, paths } from './paths';

/** Another collection holds the lease: this one does not run. */
export class GcLockedError extends Error {
  override readonly name = 'GcLockedError';
}

/** The lease was taken over, or not renewed in time: the holder must stop deleting. */
export class GcLeaseLost extends Error {
  override readonly name = 'GcLeaseLost';
}

export interface LeaseTimings {
  /** A lease not renewed for this long, by the storage's clock, may be taken over. */
  ttlMs: number;
  renewMs: number;
  /**
   * The holder stops once its last renewal started this long ago, by its own monotonic clock. It
   * must be well under `ttlMs`, by more than a delete's duration plus the storage clock's
   * resolution (a second on S3): the holder has stopped before anybody can take over.
   */
  fenceMs: number;
}

/** As the sweep's heartbeat (gc-sweep.ts): renewed every 5 s, the holder gives up after 20 s, others take over after 60 s. */
export const LEASE_TIMINGS: LeaseTimings = { ttlMs: 60_000, renewMs: 5_000, fenceMs: 20_000 };

interface LeaseBody {
  owner: string;
  renewals: number;
  released?: boolean;
}

/**
 * One collector at a time across every process sharing the store (docs/architecture.md, "Garbage
 * collection"). Leases are numbered; taking lease n+1 is a createExclusive, so of collectors racing
 * for it exactly one wins, whether n was released or expired. The holder rewrites its lease to
 * renew it and checks, before each destructive step, that it renewed recently and that no newer
 * lease exists.
 */
export class GcLease {
  private renewals = 0;
  private lastRenewal = performance.now();
  private lost?: string;
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<void>;

  private constructor(
    private readonly driver: StorageDriver,
    readonly number: number,
    readonly owner: string,
    private readonly timings: LeaseTimings,
  ) {}

  /** Takes the lease, or throws GcLockedError when another collector holds it. */
  static async acquire(driver: StorageDriver, timings: LeaseTimings = LEASE_TIMINGS): Promise<GcLease> {
    const owner = `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`;
    const newest = await newestLease(driver);
    if (newest !== undefined) await assertFree(driver, newest, owner, timings.ttlMs);
    const lease = new GcLease(driver, (newest ?? 0) + 1, owner, timings);
    const started = performance.now();
    try {
      await driver.createExclusive(paths.gcLease(lease.number), lease.body());
    } catch (err) {
      if (isExists(err)) throw new GcLockedError('another garbage collection started at the same time');
      throw err;
    }
    lease.lastRenewal = started;
    try {
      // The listing above may be old: a lease number freed by the cleanup below can be created
      // again by a collector that listed before it. Whoever finds a newer lease than its own has lost.
      const after = await newestLease(driver);
      if (after !== lease.number) throw new GcLockedError(`another garbage collection took a newer lease (${after})`);
      await lease.dropOlder();
    } catch (err) {
      // Not left to expire when storage failed here; harmless when a newer lease exists.
      await lease.release().catch(() => undefined);
      throw err;
    }
    lease.timer = setInterval(() => {
      lease.renewing ??= lease.renew().finally(() => (lease.renewing = undefined));
    }, timings.renewMs);
    lease.timer.unref();
    return lease;
  }

  /** Throws GcLeaseLost unless this process may still delete: call it before each destructive step. */
  assertHeld(): void {
    if (this.lost === undefined && performance.now() - this.lastRenewal >= this.timings.fenceMs)
      this.lose(`the lease was not renewed for ${this.timings.fenceMs / 1000} s`);
    if (this.lost !== undefined) throw new GcLeaseLost(`garbage collection stopped: ${this.lost}`);
  }

  /** Ends the renewals and frees the lease at once for the next collector (unless it was lost). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
    if (this.lost !== undefined) return;
    this.lost = 'released';
    await this.driver.putContent(paths.gcLease(this.number), this.body(true));
  }

  private async renew(): Promise<void> {
    const started = performance.now();
    try {
      this.assertHeld();
    } catch {
      // Lost for good: a renewal that landed now could come after another collector found the
      // lease expired, and must not make this one believe it still holds it.
      clearInterval(this.timer);
      return;
    }
    try {
      this.renewals++;
      await this.driver.putContent(paths.gcLease(this.number), this.body());
      const newest = await newestLease(this.driver);
      if (newest !== this.number) this.lose(`another collector took lease ${newest}`);
      // Counted from when the renewal was sent: the storage stamped it no earlier than that.
      else if (this.lost === undefined) this.lastRenewal = started;
    } catch {
      // A failed renewal only ages the lease; assertHeld stops the deletes once it is too old.
    }
  }

  private lose(why: string): void {
    this.lost = why;
    clearInterval(this.timer);
  }

  private body(released = false): Buffer {
    return Buffer.from(JSON.stringify({ owner: this.owner, renewals: this.renewals, ...(released && { released }) } satisfies LeaseBody));
  }

  /** Older leases are history: only the newest tells anything. */
  private async dropOlder(): Promise<void> {
    const older = (await this.driver.list(paths.gcLeases)).filter((p) => (leaseNumber(p) ?? Infinity) < this.number);
    await Promise.all(older.map((p) => this.driver.delete(p).catch(() => undefined)));
  }
}

async function newestLease(driver: StorageDriver): Promise<number | undefined> {
  let listed: string[];
  try {
    listed = await driver.list(paths.gcLeases);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const numbers = listed.map(leaseNumber).filter((n) => n !== undefined);
  return numbers.length > 0 ? Math.max(...numbers) : undefined;
}

/** Throws GcLockedError unless lease `n` was released or has expired by the storage's clock. */
async function assertFree(driver: StorageDriver, n: number, owner: string, ttlMs: number): Promise<void> {
  const path = paths.gcLease(n);
  let body: LeaseBody | undefined;
  let modTime: number;
  try {
    const [content, info] = await Promise.all([driver.getContent(path), driver.stat(path)]);
    body = parseBody(content);
    modTime = info.modTime.getTime();
  } catch (err) {
    // Dropped as history by a collector that has taken a newer one: creating n+1 fails then.
    if (isNotFound(err)) return;
    throw err;
  }
  if (body?.released) return;
  const age = (await storageNow(driver, owner)) - modTime;
  if (age <= ttlMs) throw new GcLockedError(`another garbage collection is running (${body?.owner ?? 'unknown'}, renewed ${Math.max(0, Math.round(age / 1000))} s ago)`);
}

function parseBody(content: Buffer): LeaseBody | undefined {
  try {
    return JSON.parse(content.toString('utf8')) as LeaseBody;
  } catch {
    // createExclusive never shows partial content: a body that does not parse is foreign.
    return undefined;
  }
}
