import type { DeliveryObserver } from '../events/deliverer';
import type { Metrics } from './metrics';

/** The notification deliverer's reports, as the per-endpoint metrics. */
export function eventMetrics(metrics: Metrics): DeliveryObserver {
  return {
    delivered: (endpoint, n) => metrics.eventsDelivered.inc({ endpoint }, n),
    failed: (endpoint) => metrics.eventDeliveryFailures.inc({ endpoint }),
    pending: (endpoint, n, age) => {
      metrics.eventsPending.set({ endpoint }, n);
      metrics.eventsOldestPendingAge.set({ endpoint }, age);
    },
    dropped: (n) => metrics.eventsDropped.inc(n),
    failing: (endpoint, failing) => metrics.eventEndpointFailing.set({ endpoint }, failing ? 1 : 0),
    deadLettered: (endpoint, n) => metrics.eventsDeadLettered.set({ endpoint }, n),
  };
}
