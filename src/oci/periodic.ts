/**
 * Runs `task` every `interval` ms, each run starting `interval` after the previous one ended, so
 * runs never overlap. The first run is delayed (by up to a minute, or the interval when shorter) and
 * jittered, so that replicas started together do not all walk the store at once. `task` must not
 * reject. The timers do not keep the process alive. Returns a stop function.
 */
export function startPeriodic(interval: number, task: () => Promise<void>): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = async () => {
    await task();
    if (!stopped) timer = setTimeout(() => void run(), interval).unref();
  };
  const first = Math.min(interval, 60_000);
  timer = setTimeout(() => void run(), first + Math.floor(Math.random() * first)).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
