import { readdir, readFile } from 'node:fs/promises';
import { constants, setPriority } from 'node:os';
import { statField } from '../../proc-files';

/** Linux's number for SCHED_IDLE in /proc/<pid>/stat's `policy` field. */
const SCHED_IDLE = 5;

/** The scheduling policy of a process or thread from its /proc stat line; null off Linux. */
export async function schedulingPolicy(statPath: string): Promise<number | null> {
  let stat: string;
  try {
    stat = await readFile(statPath, 'utf8');
  } catch {
    return null;
  }
  const policy = Number(statField(stat, 41));
  return Number.isInteger(policy) ? policy : null;
}

export const isIdlePolicy = (policy: number | null): boolean => policy === SCHED_IDLE;

/**
 * Puts this process below every request-serving one. Started under `chrt -i 0`, every thread is
 * SCHED_IDLE already: it runs only on CPU time nothing else wants (measured in bench/README.md,
 * "Image insight"). Otherwise each thread gets the lowest nice value, which still takes a few
 * per cent from a busy server on the same core; threads started later inherit it.
 */
export async function lowerOwnPriority(): Promise<'idle' | 'nice' | 'normal'> {
  if (isIdlePolicy(await schedulingPolicy('/proc/self/stat'))) return 'idle';
  let threads: string[];
  try {
    threads = await readdir('/proc/self/task');
  } catch {
    threads = [];
  }
  let lowered = false;
  for (const tid of threads) {
    try {
      // On Linux, a thread id names that one thread.
      setPriority(Number(tid), constants.priority.PRIORITY_LOW);
      lowered = true;
    } catch {
      // A thread that ended meanwhile, or a platform without per-thread priorities.
    }
  }
  if (!lowered) {
    try {
      setPriority(constants.priority.PRIORITY_LOW);
      lowered = true;
    } catch {
      // Left as is: the analysis still runs, at the server's priority.
    }
  }
  return lowered ? 'nice' : 'normal';
}
