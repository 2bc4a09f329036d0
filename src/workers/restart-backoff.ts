/** How long a slot waits before its worker is forked again, and whether it is crash-looping. */
export interface RestartPlan {
  delayMs: number;
  /** Exits of this slot within the window, this one included. */
  recentExits: number;
  /** From LOOP_EXITS exits within the window: the primary says so at error level. */
  looping: boolean;
}

export interface BackoffTimings {
  firstMs: number;
  maxMs: number;
  windowMs: number;
}

export const BACKOFF: BackoffTimings = { firstMs: 100, maxMs: 30_000, windowMs: 60_000 };
const LOOP_EXITS = 3;

/**
 * Per slot: the first exit in a while restarts almost at once (a one-off crash costs little), each
 * further exit within the window doubles the wait up to the maximum, so a worker that dies at
 * start-up (a disk gone, a bug on a path every request takes) does not burn a core forking.
 */
export class RestartBackoff {
  private readonly exits = new Map<number, number[]>();

  constructor(
    private readonly timings: BackoffTimings = BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  exited(slot: number): RestartPlan {
    const t = this.now();
    const recent = (this.exits.get(slot) ?? []).filter((at) => t - at < this.timings.windowMs);
    recent.push(t);
    this.exits.set(slot, recent);
    const delayMs = Math.min(this.timings.maxMs, this.timings.firstMs * 2 ** (recent.length - 1));
    return { delayMs, recentExits: recent.length, looping: recent.length >= LOOP_EXITS };
  }
}
