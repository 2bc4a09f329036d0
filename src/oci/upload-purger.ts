import type { Logger } from 'pino';
import { startPeriodic } from './periodic';
import type { UploadManager } from './uploads';

export interface PurgeSchedule {
  /** Sessions older than this many ms are deleted. */
  age: number;
  /** ms between runs. */
  interval: number;
  dryRun: boolean;
}

/** Runs upload purging shortly after start-up and then every interval (see startPeriodic). Returns a stop function. */
export function startUploadPurger(uploads: UploadManager, logger: Logger, schedule: PurgeSchedule): () => void {
  return startPeriodic(schedule.interval, async () => {
    try {
      const purged = await uploads.purge(schedule.age, Date.now(), schedule.dryRun);
      if (purged.length > 0) logger.info({ count: purged.length, dryRun: schedule.dryRun }, 'purged stale upload sessions');
    } catch (err) {
      logger.warn({ err }, 'upload purge failed');
    }
  });
}
