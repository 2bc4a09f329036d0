import { performance } from 'node:perf_hooks';
import { Transform } from 'node:stream';

/**
 * Requests in flight in this process. Analysis runs on the event loop that serves them (and, on a
 * one-core server, on the same core), so it yields to them rather than slowing pushes and pulls.
 */
export class RequestActivity {
  private inFlight = 0;

  enter(): void {
    this.inFlight++;
  }

  leave(): void {
    this.inFlight--;
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }
}

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
      const now = performance.now();
      if (!activity.busy || urgent()) {
        last = now;
        callback(null, chunk);
        return;
      }
      const pause = Math.min(((now - last) * (1 - share)) / share, MAX_PAUSE_MS);
      setTimeout(() => {
        last = performance.now();
        callback(null, chunk);
      }, pause);
    },
  });
}
