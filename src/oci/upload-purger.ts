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
 * Runs upload purging shortly after start-up and then every interval. The first run is delayed (by
 * up to a minute, or the interval when shorter) and jittered so that replicas started together do not all walk the store at once. Returns a stop
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
  const first = Math.min(schedule.interval, 60_000);
  timer = setTimeout(run, first + Math.floor(Math.random() * first)).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
