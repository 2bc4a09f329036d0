/**
 * Lets the same message through at most once per `intervalMs`, counting what it held back. A fault
 * every request hits (an htpasswd file removed while running) would otherwise write one error line
 * per request: a busy registry's log would be that line and nothing else.
 */
export class RepeatThrottle {
  private readonly seen = new Map<string, { logged: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
    /** Distinct messages remembered; the oldest is forgotten beyond it, so odd inputs cannot grow the map. */
    private readonly capacity = 100,
  ) {}

  /** Undefined to hold the line back; otherwise how many of the same were held back since the last one. */
  pass(key: string): { suppressed: number } | undefined {
    const t = this.now();
    const entry = this.seen.get(key);
    if (entry && t - entry.logged < this.intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    this.seen.delete(key);
    if (this.seen.size >= this.capacity) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(key, { logged: t, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }
}
