import type { Logger } from 'pino';
import type { UploadManager } from './uploads';

export interface PurgeSchedule {
  /** Sessions older than this many ms are deleted. */
  age: number;
  /** ms between runs. */
  interval: number;
  dryRun: boolean;
}

/**
 * Runs upload purging shortly after start-up and then every interval. The first run is delayed and
 * jittered so that replicas started together do not all walk the store at once. Returns a stop
 * function.
 */
export function startUploadPurger(uploads: UploadManager, logger: Logger, schedule: PurgeSchedule): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async () => {
    try {
      const purged = await uploads.purge(schedule.age, Date.now(), schedule.dryRun);
      if (purged.length > 0) logger.info({ count: purged.length, dryRun: schedule.dryRun }, 'purged stale upload sessions');
    } catch (err) {
      logger.warn({ err }, 'upload purge failed');
    }
    if (!stopped) timer = setTimeout(run, schedule.interval).unref();
  };
  timer = setTimeout(run, 60_000 + Math.floor(Math.random() * 60_000)).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
