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

/**
 * The bound on RSS outside V8's heap, the backstop for memory the collector cannot see, in tests
 * that stream a 200 MiB blob: holding it once would add 200 MiB. What grows there without any
 * leak (buffers not yet collected, freed memory the allocator's per-thread arenas keep) reached
 * 103 MiB on Node 24 in a loaded CI run whose live memory grew by 8 MiB, so the bound sits between.
 */
export const MAX_OFF_HEAP_RSS_GROWTH = 150 * MiB;

/** Resident memory outside V8's heap: buffers' stores and everything else native. */
const offHeapRss = (m: NodeJS.MemoryUsage) => m.rss - m.heapTotal;

/** Growth over the baseline taken when the watch started, at the highest sample of each. */
export interface MemoryPeaks {
  /** Heap used and array buffers, after a full collection. */
  live: number;
  /** RSS less V8's heap: what the heap reserves (its young generation grows to 100 MiB on Node 24) is left out. */
  offHeapRss: number;
  rss: number;
  baselineRss: number;
  /** Samples of live memory: a run too short to sample proves nothing. */
  samples: number;
}

export interface MemoryWatch {
  stop(): MemoryPeaks;
}

export const describePeaks = (p: MemoryPeaks): string =>
  `live growth ${(p.live / MiB).toFixed(1)} MiB, off-heap RSS growth ${(p.offHeapRss / MiB).toFixed(1)} MiB, ` +
  `RSS growth ${(p.rss / MiB).toFixed(1)} MiB (baseline ${(p.baselineRss / MiB).toFixed(0)} MiB, ${p.samples} samples)`;

/**
 * Watches this process's memory from now on. Live memory, every `liveEveryMs`, is what the code
 * under test holds: each sample forces full collections, so garbage not yet collected, whose
 * amount depends on the Node version and the machine's load, does not count. RSS outside the heap,
 * every `rssEveryMs`, is the backstop for memory that is neither (native allocations, buffers the
 * collector cannot see).
 */
export function watchLiveMemory({ liveEveryMs = 250, rssEveryMs = 10 } = {}): MemoryWatch {
  const baseline = liveBytes();
  const start = process.memoryUsage();
  const peaks: MemoryPeaks = { live: 0, offHeapRss: 0, rss: 0, baselineRss: start.rss, samples: 0 };
  const liveTimer = setInterval(() => {
    peaks.live = Math.max(peaks.live, liveBytes() - baseline);
    peaks.samples++;
  }, liveEveryMs);
  const rssTimer = setInterval(() => {
    const m = process.memoryUsage();
    peaks.rss = Math.max(peaks.rss, m.rss - start.rss);
    peaks.offHeapRss = Math.max(peaks.offHeapRss, offHeapRss(m) - offHeapRss(start));
  }, rssEveryMs);
  // A test that fails before it calls stop() must not leave the timers holding its process open:
  // node --test waits for every test file's process to exit, so one stuck here stalls the whole run.
  liveTimer.unref();
  rssTimer.unref();
  return {
    stop() {
      clearInterval(liveTimer);
      clearInterval(rssTimer);
      return { ...peaks };
    },
  };
}
