import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';

/**
 * Requests in flight in this process. Analysis runs on the event loop that serves them (and, on a
 * one-core server, on the same core), so it yields to them rather than slowing pushes and pulls.
 */
export class RequestActivity {
  private inFlight = 0;
  private lastLeft = -Infinity;

  /** `quietMs`: how long after the last request the process still counts as busy. */
  constructor(private readonly quietMs = QUIET_MS) {}

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
    this.lastLeft = performance.now();
  }

  /**
   * A request is in flight, or one ended moments ago: a client pushing layers one after another
   * leaves gaps of a millisecond between its requests, which a full-speed scan would fill.
   */
  get busy(): boolean {
    return this.inFlight > 0 || performance.now() - this.lastLeft < this.quietMs;
  }
}

/** How long after its last request a process still yields. */
const QUIET_MS = 100;
/** Pacing works on slices this large: about 2 ms of scanning each, so a request never waits long behind one. */
const SLICE_BYTES = 64 * 1024;

/** The share of the time an analysis takes while requests are in flight. */
export const BUSY_SHARE = 0.05;
/** The longest pause after one chunk: under constant load analysis still moves, slowly. */
const MAX_PAUSE_MS = 250;

/**
 * Passes a blob's chunks on at full speed while the process is idle (or `urgent()`: a push waits
 * for this analysis); while requests are in flight, after each chunk it pauses for long enough that
 * the time since the previous chunk (the chunk's reading, decompression and scanning, and anything
 * else the loop ran meanwhile) is at most `share` of the whole. Backpressure does the rest: the scan
 * behind it waits, and the read before it stops.
 */
export function pacedStream(activity: RequestActivity, urgent: () => boolean, share = BUSY_SHARE): Transform {
  let last = performance.now();
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      let offset = 0;
      // Each slice is pushed once the previous one had its turn; a read's large chunk is not
      // scanned in one go while requests wait.
      const next = (): void => {
        if (offset >= chunk.length) return callback();
        const slice = chunk.subarray(offset, offset + SLICE_BYTES);
        offset += slice.length;
        const now = performance.now();
        const pause = !activity.busy || urgent() ? 0 : Math.min(((now - last) * (1 - share)) / share, MAX_PAUSE_MS);
        const push = (): void => {
          last = performance.now();
          this.push(slice);
          next();
        };
        if (pause === 0) push();
        else setTimeout(push, pause);
      };
      next();
    },
  });
}
