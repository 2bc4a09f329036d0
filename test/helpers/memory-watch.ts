import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * What this process holds: heap objects and buffers still referenced. A full collection frees
 * what is dead, but V8 sweeps array buffers concurrently after it; the second collection waits
 * for that sweep, so the count excludes every buffer that was garbage before the first.
 */
function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Growth over the baseline taken when the watch started, at the highest sample. */
export interface MemoryPeaks {
  /** Live memory (heap used + array buffers after a full collection); absent for another process. */
  live?: number;
  rss: number;
  baselineRss: number;
  /** How many samples of the headline measure were taken: a run too short to sample proves nothing. */
  samples: number;
}

export interface MemoryWatch {
  stop(): MemoryPeaks;
}

export const describePeaks = (p: MemoryPeaks): string =>
  `${p.live === undefined ? '' : `live growth ${(p.live / MiB).toFixed(1)} MiB, `}RSS growth ${(p.rss / MiB).toFixed(1)} MiB ` +
  `(baseline ${(p.baselineRss / MiB).toFixed(0)} MiB, ${p.samples} samples)`;

/**
 * Watches this process: live memory every `liveEveryMs` (each sample forces two full collections,
 * so it measures what is held rather than garbage not yet collected, which depends on the Node
 * version and the machine's load), and RSS every `rssEveryMs` as a backstop.
 */
export function watchLiveMemory({ liveEveryMs = 150, rssEveryMs = 10 } = {}): MemoryWatch {
  const baseline = liveBytes();
  const baselineRss = process.memoryUsage().rss;
  let live = 0;
  let rss = 0;
  let samples = 0;
  const liveTimer = setInterval(() => {
    live = Math.max(live, liveBytes() - baseline);
    samples++;
  }, liveEveryMs);
  const rssTimer = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss - baselineRss)), rssEveryMs);
  return {
    stop() {
      clearInterval(liveTimer);
      clearInterval(rssTimer);
      return { live, rss, baselineRss, samples };
    },
  };
}

/** A process's resident set, from /proc (Linux). */
export function processRss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** Watches another process's RSS every `everyMs`, from its value now. */
export function watchProcessRss(pid: number, { everyMs = 20 } = {}): MemoryWatch {
  const baselineRss = processRss(pid);
  let rss = 0;
  let samples = 0;
  const timer = setInterval(() => {
    try {
      rss = Math.max(rss, processRss(pid) - baselineRss);
      samples++;
    } catch {
      // The process is gone: what the test asks of it fails on its own.
      clearInterval(timer);
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { rss, baselineRss, samples };
    },
  };
}
