import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import { startPeriodic } from './periodic';
import type { UploadManager } from './uploads';

export interface PurgeSchedule {
  /** Sessions older than this many ms are deleted. */
  age: number;
  /** ms between runs. */
  interval: number;
  dryRun: boolean;
}

/**
 * Runs upload purging shortly after start-up and then every interval (see startPeriodic). Each run
 * also purges the driver's crash leftovers of the same age (temp files, orphaned multipart
 * uploads): like stale sessions, they are writes nobody will finish. Returns a stop function.
 */
export function startUploadPurger(uploads: UploadManager, driver: StorageDriver, logger: Logger, schedule: PurgeSchedule): () => void {
  return startPeriodic(schedule.interval, async () => {
    try {
      const now = Date.now();
      const purged = await uploads.purge(schedule.age, now, schedule.dryRun);
      if (purged.length > 0) logger.info({ count: purged.length, dryRun: schedule.dryRun }, 'purged stale upload sessions');
      const leftovers = await driver.purgeLeftovers(new Date(now - schedule.age), { dryRun: schedule.dryRun });
      if (leftovers.length > 0) {
        const bytes = leftovers.reduce((sum, l) => sum + l.size, 0);
        logger.info({ count: leftovers.length, bytes, dryRun: schedule.dryRun }, 'purged stale storage leftovers');
      }
    } catch (err) {
      logger.warn({ err }, 'upload purge failed');
    }
  });
}
