import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StorageDriver } from '../../storage-drivers/types';
import { DomainError } from './errors';
import { Lease, type LeaseKind, type LeaseTimings } from './lease';
import { paths } from './paths';
import { SESSION_BUSY, type SessionExclusion, type SessionHold } from './session-exclusion';

export interface UploadLeaseTimings extends LeaseTimings {
  /** How long a request waits for the session's other request to end before it is refused. */
  waitMs: number;
  /** How often a waiting request looks again. */
  pollMs: number;
}

/**
 * A request that holds a session renews every 2 s and stops writing once 10 s passed without a
 * renewal; a holder that died (SIGKILL) blocks its session for 30 s. A second request waits 10 s:
 * long enough for a retry that overtook the server's notice of its first attempt's disconnect.
 */
export const UPLOAD_LEASE_TIMINGS: UploadLeaseTimings = { ttlMs: 30_000, renewMs: 2_000, fenceMs: 10_000, waitMs: 10_000, pollMs: 100 };

/** Another request holds the session's lease (internal: the waiter turns it into `upload-busy`). */
class SessionBusy extends Error {
  override readonly name = 'SessionBusy';
}

/**
 * Requests on one upload session exclude each other across processes (docs/architecture.md,
 * "Uploads"): on a filesystem a request still appending through its open file would otherwise
 * write into the blob another request's commit renamed into place. Leases live in the session's
 * directory, so that whatever removes the session removes them. Not flushed: a crash ends every
 * request that held one. For replicas sharing a store (a configured http.secret); session-exclusion.ts
 * holds sessions in memory where only this process or its group can reach them.
 */
export class UploadLeases implements SessionExclusion {
  constructor(
    private readonly driver: StorageDriver,
    private readonly timings: UploadLeaseTimings = UPLOAD_LEASE_TIMINGS,
  ) {}

  /**
   * The session's lease, waiting up to `waitMs` for the request holding it; then `upload-busy`.
   * The caller checks that the session still exists: one that ended while this waited has its
   * directory made again by the lease.
   */
  async acquire(name: string, uuid: string, signal?: AbortSignal): Promise<SessionHold> {
    const lease = await this.take(name, uuid, signal);
    // A lease found before this one shows the session went on at least until this one was taken,
    // and only a holder (a commit) ends it otherwise.
    return { recheck: lease.first, assertHeld: () => lease.assertHeld(), end: () => lease.end(), release: () => lease.release() };
  }

  private async take(name: string, uuid: string, signal?: AbortSignal): Promise<Lease> {
    const kind: LeaseKind = {
      dir: paths.uploadLeases(name, uuid),
      releaseByDelete: true,
      path: (n) => paths.uploadLease(name, uuid, n),
      durable: false,
      holder: 'request',
      busy: (why) => new SessionBusy(why),
      lost: () => new DomainError('upload-busy', {}, 'this request lost its hold on the upload session to another request'),
    };
    const deadline = performance.now() + this.timings.waitMs;
    for (;;) {
      try {
        return await Lease.acquire(this.driver, kind, this.timings);
      } catch (err) {
        if (!(err instanceof SessionBusy)) throw err;
        if (performance.now() >= deadline) throw new DomainError('upload-busy', {}, SESSION_BUSY);
      }
      await sleep(this.timings.pollMs, undefined, { signal });
    }
  }
}
