import { TooManyAttempts } from './types';

/**
 * Counts failed logins per client in a sliding window; a client over the limit is refused until its
 * oldest failure leaves the window. Memory is bounded: at most `maxClients` are tracked.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 50_000,
  ) {}

  private recent(client: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const list = (this.failures.get(client) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(client);
    else this.failures.set(client, list);
    return list;
  }

  /** Throws TooManyAttempts when `client` already failed too often. */
  check(client: string): void {
    const list = this.recent(client);
    if (list.length >= this.maxFailures) {
      const retry = Math.max(1, Math.ceil((list[0] + this.windowMs - this.now()) / 1000));
      throw new TooManyAttempts(retry);
    }
  }

  fail(client: string): void {
    const list = this.recent(client);
    if (list.length === 0 && this.failures.size >= this.maxClients) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    list.push(this.now());
    // Only the last maxFailures matter.
    this.failures.set(client, list.slice(-this.maxFailures));
  }
}
