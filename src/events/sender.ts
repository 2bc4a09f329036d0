import type { EndpointConfig } from '../config/notifications-schema';
import { EVENTS_MEDIA_TYPE, envelope, type RegistryEvent } from './event';

/**
 * The receiver answered and refused this envelope (a 4xx other than 408 and 429): sending the same
 * bytes again may never succeed, unlike a receiver that is down, slow or overloaded.
 */
export class ReceiverRefused extends Error {
  constructor(
    endpoint: string,
    readonly status: number,
  ) {
    super(`${endpoint}: receiver refused the events with ${status}`);
  }
}

/**
 * POSTs one envelope. As in Distribution, any status below 400 is delivery; redirects are not
 * followed (a receiver that moved must be reconfigured, not chased with the events).
 */
export async function postEvents(endpoint: EndpointConfig, events: RegistryEvent[]): Promise<void> {
  const headers = new Headers();
  for (const [k, values] of Object.entries(endpoint.headers)) for (const v of values) headers.append(k, v);
  headers.set('Content-Type', EVENTS_MEDIA_TYPE);
  const res = await fetch(endpoint.url, {
    method: 'POST',
    headers,
    body: JSON.stringify(envelope(events)),
    redirect: 'manual',
    signal: AbortSignal.timeout(endpoint.timeout),
  });
  // Read the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new ReceiverRefused(endpoint.name, res.status);
  if (res.status >= 400) throw new Error(`${endpoint.name}: receiver answered ${res.status}`);
}
