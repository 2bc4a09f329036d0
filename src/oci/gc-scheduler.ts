import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import { GarbageCollector, type GcOptions, type GcReport } from './gc';
import { GcLease, GcLockedError, LEASE_TIMINGS, type LeaseTimings } from './gc-lease';
import type { Listing } from './listing';
import { startPeriodic } from './periodic';

export interface GcSchedule {
  interval: number;
  grace: number;
  /** See GcOptions.quietMs. */
  quietMs: number;
  deleteUntagged: boolean;
  dryRun: boolean;
  /** See GcOptions.onDeleting: each collection reports what it deletes before deleting it. */
  onDeleting?: GcOptions['onDeleting'];
  /** See GcOptions.eviction: the mirror's cache policy. */
  eviction?: GcOptions['eviction'];
}

/**
 * Runs a collection every interval (first after a jittered delay, see startPeriodic). With several
 * replicas each one tries; the lease lets one collect and the others skip that round. Returns a stop
 * function.
 */
export function startGcScheduler(
  driver: StorageDriver,
  listing: Listing,
  logger: Logger,
  schedule: GcSchedule,
  onRun: (result: 'ok' | 'failed' | 'skipped', report?: GcReport) => void = () => undefined,
  leaseTimings: LeaseTimings = LEASE_TIMINGS,
): () => void {
  const collector = new GarbageCollector(driver, listing);
  return startPeriodic(schedule.interval, async () => {
    try {
      const lease = await GcLease.acquire(driver, leaseTimings);
      try {
        const started = Date.now();
        const report = await collector.collect({ grace: schedule.grace, quietMs: schedule.quietMs, deleteUntagged: schedule.deleteUntagged, dryRun: schedule.dryRun, lease, onDeleting: schedule.onDeleting, eviction: schedule.eviction });
        logger.info(
          { blobs: report.blobs.length, bytes: report.bytes, manifests: report.manifests.length, evicted: report.evicted.length, evictedBytes: report.evictedBytes, leftovers: report.leftovers, dryRun: report.dryRun, ms: Date.now() - started },
          'garbage collection finished',
        );
        onRun('ok', report);
      } finally {
        await lease.release();
      }
    } catch (err) {
      if (err instanceof GcLockedError) {
        logger.info({ reason: err.message }, 'garbage collection skipped');
        onRun('skipped');
      } else {
        logger.warn({ err }, 'garbage collection failed');
        onRun('failed');
      }
    }
  });
}
