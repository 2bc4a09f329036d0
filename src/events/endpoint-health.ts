import type { Logger } from 'pino';
import type { EndpointConfig } from '../config/notifications-schema';

/** What the endpoint's health tells metrics. */
export interface HealthObserver {
  failing(endpoint: string, failing: boolean): void;
}

/**
 * Distribution's circuit breaker for one endpoint (notifications/sinks.go, retryingSink): the first
 * `threshold` failed attempts in a row are retried at once (a blip costs no wait); from then on the
 * endpoint is failing, logged once and shown in a metric, and each attempt waits `backoff`, doubled
 * per further failure up to `maxbackoff` (Distribution waits `backoff` each time). One attempt that
 * goes through closes it again.
 */
export class EndpointHealth {
  private failures = 0;
  private backoff: number;

  constructor(
    private readonly endpoint: EndpointConfig,
    private readonly logger: Logger,
    private readonly observer: HealthObserver,
  ) {
    this.backoff = endpoint.backoff;
  }

  /** After a failed attempt: how long to wait before the next one (0 while under the threshold). */
  failed(): number {
    this.failures += 1;
    if (this.failures < this.endpoint.threshold) return 0;
    if (this.failures === this.endpoint.threshold) {
      this.logger.warn({ endpoint: this.endpoint.name, failures: this.failures }, 'notification endpoint is failing; backing off');
      this.observer.failing(this.endpoint.name, true);
    }
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, Math.max(this.endpoint.maxbackoff, this.endpoint.backoff));
    return wait;
  }

  succeeded(): void {
    if (this.failures >= this.endpoint.threshold) {
      this.logger.info({ endpoint: this.endpoint.name, failures: this.failures }, 'notification endpoint recovered');
      this.observer.failing(this.endpoint.name, false);
    }
    this.failures = 0;
    this.backoff = this.endpoint.backoff;
  }
}
