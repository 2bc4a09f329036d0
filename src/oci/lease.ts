import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { StorageDriver } from '../../storage-drivers/types';
import { isExists, isNotFound } from '../../storage-drivers/errors';
import { storageNow } from './storage-clock';
import { leaseNumber } from './paths';

export interface LeaseTimings {
  /** A lease not renewed for this long, by the storage's clock, may be taken over. */
  ttlMs: number;
  renewMs: number;
  /**
   * The holder stops once its last renewal started this long ago, by its own monotonic clock. It
   * must be well under `ttlMs`, by more than a step's duration plus the storage clock's resolution
   * (a second on S3): the holder has stopped before anybody can take over.
   */
  fenceMs: number;
}

/** Where one kind of lease lives and how its refusals read. */
export interface LeaseKind {
  /** The directory of the numbered leases. */
  dir: string;
  /**
   * Released by deleting it rather than rewriting it as `released`: one storage operation instead
   * of two, for leases taken at every request. Then no lease outlives its holder but an expired one.
   */
  releaseByDelete: boolean;
  path(n: number): string;
  /** createExclusive's durability: false where a crash ends every holder anyway. */
  durable: boolean;
  /** Who holds such leases, for messages ("another collector took lease 7"). */
  holder: string;
  /** The refusal when another holds the lease or won the race: `why` reads after "another …". */
  busy(why: string): Error;
  /** What assertHeld throws once the lease is lost. */
  lost(why: string): Error;
}

/** Who may take a lease from whom, beyond its expiry. */
export interface LeaseOwnership {
  /** Ends this process's owner names: `host/pid/random/tag`. */
  tag?: string;
  /**
   * A live lease whose owner carries this tag is taken over as if it had expired: a holder that
   * answers to this process (its own analysis child, which SCHED_IDLE may leave without any CPU
   * time on a busy machine) and whose renewal then finds the lease gone and stops.
   */
  takeOverTag?: string;
}

interface LeaseBody {
  owner: string;
  renewals: number;
  released?: boolean;
}

/**
 * Mutual exclusion across every process sharing the store (docs/architecture.md, "Garbage
 * collection: the lease"). Leases are numbered and only the newest counts; taking lease n+1 is a
 * createExclusive, so of racers exactly one wins, whether n was released or expired. The holder
 * rewrites its lease to renew it and checks, before each step that must not overlap another
 * holder's, that it renewed recently and that no newer lease exists.
 */
export class Lease {
  /** No lease existed before this one (its directory may have been made by taking it). */
  first = false;
  private renewals = 0;
  private lastRenewal = performance.now();
  private lost?: string;
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<void>;

  private constructor(
    private readonly driver: StorageDriver,
    private readonly kind: LeaseKind,
    readonly number: number,
    readonly owner: string,
    private readonly timings: LeaseTimings,
  ) {}

  /** Whose lease this one took over before its expiry (LeaseOwnership.takeOverTag), if any. */
  tookOverFrom?: string;

  /** Takes the lease, or throws `kind.busy(…)` when another holds it or wins the race. */
  static async acquire(driver: StorageDriver, kind: LeaseKind, timings: LeaseTimings, ownership: LeaseOwnership = {}): Promise<Lease> {
    const owner = `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}${ownership.tag === undefined ? '' : `/${ownership.tag}`}`;
    // Leases released by deleting them mostly leave none behind: lease 1 is tried before any
    // listing. Refused, it only means a lease exists (lease 1, or a newer one that took over and
    // deleted it as history), which the listing below reads.
    if (kind.releaseByDelete) {
      const first = await Lease.take(driver, kind, timings, owner, 1);
      if (first instanceof Lease) return first.startRenewing();
    }
    const newest = Math.max(0, ...(await leaseNumbers(driver, kind)));
    const tookOverFrom = newest > 0 ? await assertFree(driver, kind, newest, owner, timings.ttlMs, ownership.takeOverTag) : undefined;
    const taken = await Lease.take(driver, kind, timings, owner, newest + 1);
    if (!(taken instanceof Lease)) throw kind.busy(taken);
    taken.tookOverFrom = tookOverFrom;
    return taken.startRenewing();
  }

  /**
   * Creates lease `n` and checks that it is the newest; the lease, or why it was refused (having
   * left nothing of it that counts).
   */
  private static async take(driver: StorageDriver, kind: LeaseKind, timings: LeaseTimings, owner: string, n: number): Promise<Lease | string> {
    const lease = new Lease(driver, kind, n, owner, timings);
    lease.first = n === 1;
    const started = performance.now();
    try {
      await driver.createExclusive(kind.path(n), lease.body(), { durable: kind.durable });
    } catch (err) {
      if (isExists(err)) return 'started at the same time';
      throw err;
    }
    lease.lastRenewal = started;
    let refused: string | undefined;
    try {
      // A listing before may be old: a lease number freed by the cleanup below can be created
      // again by a racer that listed before it. Whoever finds a newer lease than its own has lost.
      const after = await leaseNumbers(driver, kind);
      const newest = Math.max(...after);
      if (newest !== n) refused = `took a newer lease (${newest})`;
      // Older leases are history: only the newest tells anything.
      else await Promise.all(after.filter((o) => o < n).map((o) => driver.delete(kind.path(o)).catch(() => undefined)));
    } catch (err) {
      // Not left to expire when storage failed here; harmless when a newer lease exists.
      await lease.release().catch(() => undefined);
      throw err;
    }
    if (refused === undefined) return lease;
    await lease.release().catch(() => undefined);
    return refused;
  }

  private startRenewing(): this {
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    }, this.timings.renewMs);
    this.timer.unref();
    return this;
  }

  /** Throws `kind.lost(…)` unless the lease still holds: call it before each step that must not overlap. */
  assertHeld(): void {
    if (this.lost === undefined && performance.now() - this.lastRenewal >= this.timings.fenceMs)
      this.lose(`the lease was not renewed for ${this.timings.fenceMs / 1000} s`);
    if (this.lost !== undefined) throw this.kind.lost(this.lost);
  }

  /**
   * Ends the renewals, waiting for one in flight, and leaves the lease as it is: before the holder
   * deletes the lease's directory, which a renewal or a release would make again.
   */
  async end(): Promise<void> {
    await this.stopRenewing();
    this.lost ??= 'ended';
  }

  /**
   * Ends the renewals and frees the lease at once for the next holder (unless it was lost or ended,
   * or its file is gone: deleted with its directory, which a rewrite must not bring back).
   */
  async release(): Promise<void> {
    await this.stopRenewing();
    if (this.lost !== undefined) return;
    if (this.kind.releaseByDelete) {
      // Only while it holds: the number of a lease found expired may be taken by a racer that
      // listed before it existed, beside whoever took the next one over it (a stalled holder's
      // release must leave it as history).
      try {
        this.assertHeld();
      } catch {
        return;
      }
      this.lost = 'released';
      await this.driver.delete(this.kind.path(this.number)).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      return;
    }
    this.lost = 'released';
    if ((await this.driver.statFile(this.kind.path(this.number))) === null) return;
    await this.driver.putContent(this.kind.path(this.number), this.body(true), { durable: this.kind.durable });
  }

  private async stopRenewing(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private async renew(): Promise<void> {
    const started = performance.now();
    try {
      this.assertHeld();
    } catch {
      // Lost for good: a renewal that landed now could come after another holder found the
      // lease expired, and must not make this one believe it still holds it.
      clearInterval(this.timer);
      return;
    }
    try {
      const path = this.kind.path(this.number);
      // Gone means deleted by a newer holder's cleanup, or with its directory: rewriting would
      // bring that directory back.
      if ((await this.driver.statFile(path)) === null) return this.lose('the lease was removed');
      this.renewals++;
      await this.driver.putContent(path, this.body(), { durable: this.kind.durable });
      const newest = Math.max(0, ...(await leaseNumbers(this.driver, this.kind)));
      if (newest !== this.number) this.lose(`another ${this.kind.holder} took lease ${newest}`);
      // Counted from when the renewal was sent: the storage stamped it no earlier than that.
      else if (this.lost === undefined) this.lastRenewal = started;
    } catch {
      // A failed renewal only ages the lease; assertHeld stops the holder once it is too old.
    }
  }

  private lose(why: string): void {
    this.lost = why;
    clearInterval(this.timer);
  }

  private body(released = false): Buffer {
    return Buffer.from(JSON.stringify({ owner: this.owner, renewals: this.renewals, ...(released && { released }) } satisfies LeaseBody));
  }
}

async function leaseNumbers(driver: StorageDriver, kind: LeaseKind): Promise<number[]> {
  let listed: string[];
  try {
    listed = await driver.list(kind.dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return listed.map(leaseNumber).filter((n) => n !== undefined);
}

/**
 * Throws `kind.busy(…)` unless lease `n` was released or has expired by the storage's clock, or
 * its live owner carries `takeOverTag`: then that owner, who is about to lose it.
 */
async function assertFree(driver: StorageDriver, kind: LeaseKind, n: number, owner: string, ttlMs: number, takeOverTag?: string): Promise<string | undefined> {
  const path = kind.path(n);
  let body: LeaseBody | undefined;
  let modTime: number;
  try {
    body = parseBody(await driver.getContent(path));
    // Most leases found were released: their age need not be read.
    if (body?.released) return undefined;
    if (takeOverTag !== undefined && typeof body?.owner === 'string' && body.owner.endsWith(`/${takeOverTag}`)) return body.owner;
    modTime = (await driver.stat(path)).modTime.getTime();
  } catch (err) {
    // Dropped as history by a holder that has taken a newer one: creating n+1 fails then.
    if (isNotFound(err)) return undefined;
    throw err;
  }
  const age = (await storageNow(driver, owner)) - modTime;
  if (age <= ttlMs) throw kind.busy(`is running (${body?.owner ?? 'unknown'}, renewed ${Math.max(0, Math.round(age / 1000))} s ago)`);
  return undefined;
}

function parseBody(content: Buffer): LeaseBody | undefined {
  try {
    return JSON.parse(content.toString('utf8')) as LeaseBody;
  } catch {
    // createExclusive never shows partial content: a body that does not parse is foreign.
    return undefined;
  }
}
