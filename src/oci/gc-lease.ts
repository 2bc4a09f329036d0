import type { StorageDriver } from '../../storage-drivers/types';
import { Lease, type LeaseKind, type LeaseTimings } from './lease';
import { paths } from './paths';

export type { LeaseTimings } from './lease';

/** Another collection holds the lease: this one does not run. */
export class GcLockedError extends Error {
  override readonly name = 'GcLockedError';
}

/** The lease was taken over, or not renewed in time: the holder must stop deleting. */
export class GcLeaseLost extends Error {
  override readonly name = 'GcLeaseLost';
}

/** As the sweep's heartbeat (gc-sweep.ts): renewed every 5 s, the holder gives up after 20 s, others take over after 60 s. */
export const LEASE_TIMINGS: LeaseTimings = { ttlMs: 60_000, renewMs: 5_000, fenceMs: 20_000 };

const GC_LEASES: LeaseKind = {
  dir: paths.gcLeases,
  releaseByDelete: false,
  path: paths.gcLease,
  durable: true,
  holder: 'collector',
  busy: (why) => new GcLockedError(`another garbage collection ${why}`),
  lost: (why) => new GcLeaseLost(`garbage collection stopped: ${why}`),
};

/**
 * One collector at a time across every process sharing the store (docs/architecture.md, "Garbage
 * collection"): the holder checks `assertHeld()` before each destructive step.
 */
export type GcLease = Lease;

export const GcLease = {
  /** Takes the lease, or throws GcLockedError when another collector holds it. */
  acquire: (driver: StorageDriver, timings: LeaseTimings = LEASE_TIMINGS): Promise<GcLease> => Lease.acquire(driver, GC_LEASES, timings),
};
