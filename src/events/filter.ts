import { EVENT_ACTIONS, type EndpointConfig, type EventAction } from '../config/notifications-schema';
import type { RegistryEvent } from './event';

/** What an endpoint has asked not to receive (ignoredmediatypes, ignore.mediatypes/actions). */
export function endpointFilter(endpoint: EndpointConfig): (e: RegistryEvent) => boolean {
  const mediaTypes = new Set([...endpoint.ignoredmediatypes, ...endpoint.ignore.mediatypes]);
  const actions = new Set<EventAction>(endpoint.ignore.actions);
  return (e) => !actions.has(e.action) && !(e.target.mediaType !== undefined && mediaTypes.has(e.target.mediaType));
}

/** The actions at least one enabled endpoint receives: events of no other action are not recorded. */
export function wantedActions(endpoints: EndpointConfig[]): Set<EventAction> {
  const wanted = new Set<EventAction>();
  for (const e of endpoints) {
    if (e.disabled) continue;
    for (const a of EVENT_ACTIONS) if (!e.ignore.actions.includes(a)) wanted.add(a);
  }
  return wanted;
}
