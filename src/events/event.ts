import { randomUUID } from 'node:crypto';
import type { EventAction } from '../config/notifications-schema';
import type { ReferenceDescriptor } from './references';
import { eventTimestamp } from './timestamp';

/**
 * Distribution 2.8's notification envelope (notifications/event.go), field for field, so that
 * receivers written for Distribution read Berth's events unchanged. Empty fields are left out, as
 * Go's `omitempty` does; `request.id`, `method` and `useragent` are always present, as there.
 */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** Distribution's media type for blob events, which have no media type of their own. */
export const BLOB_MEDIA_TYPE = 'application/octet-stream';

export interface EventTarget {
  mediaType?: string;
  size?: number;
  digest?: string;
  /** The same as size, kept by Distribution for older receivers. */
  length?: number;
  repository: string;
  fromRepository?: string;
  url?: string;
  tag?: string;
  /** With `notifications.events.includereferences`: what a manifest references. */
  references?: ReferenceDescriptor[];
  /** Berth's `insight.secrets`: what was found, each with its fingerprint, never the secret. */
  findings?: Array<{ path: string; rule: string; fingerprint: string; layer?: string }>;
}

/** Go's field order in Distribution's Target, kept so that the JSON reads as Distribution's does. */
const TARGET_KEYS: Array<keyof EventTarget> = ['mediaType', 'size', 'digest', 'length', 'repository', 'fromRepository', 'url', 'tag', 'references', 'findings'];

/** The request that caused an event; Distribution's RequestRecord. */
export interface RequestRecord {
  id: string;
  addr?: string;
  host?: string;
  method: string;
  useragent: string;
}

/** What the HTTP layer knows about the request, beside the target. */
export interface EventOrigin {
  request: RequestRecord;
  /** The authenticated user; omitted for anonymous requests. */
  actor?: string;
}

export interface RegistryEvent {
  /** Stable across redeliveries, so that receivers can de-duplicate. */
  id: string;
  timestamp: string;
  action: EventAction;
  target: EventTarget;
  request: RequestRecord;
  actor: { name?: string };
  source: { addr?: string; instanceID?: string };
}

export interface EventSource {
  addr?: string;
  instanceID: string;
}

/** A new event, stamped now with a fresh id. */
export function createEvent(action: EventAction, target: EventTarget, origin: EventOrigin, source: EventSource): RegistryEvent {
  return {
    id: randomUUID(),
    timestamp: eventTimestamp(),
    action,
    target: targetRecord(target),
    request: { ...dropEmpty(origin.request), method: origin.request.method, useragent: origin.request.useragent },
    actor: origin.actor ? { name: origin.actor } : {},
    source: dropEmpty(source),
  };
}

/** The body of one delivery. */
export function envelope(events: RegistryEvent[]): { events: RegistryEvent[] } {
  return { events };
}

/** In Go's order, without what Go's omitempty leaves out (a zero size among them). */
function targetRecord(target: EventTarget): EventTarget {
  const given: EventTarget = { ...target, length: target.size };
  const out: Partial<Record<keyof EventTarget, unknown>> = {};
  for (const key of TARGET_KEYS) {
    const v = given[key];
    if (v === undefined || v === '' || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[key] = v;
  }
  return out as EventTarget;
}

function dropEmpty<T extends object>(o: T): T {
  const out = { ...o };
  for (const k of Object.keys(out) as Array<keyof T>) if (out[k] === undefined || out[k] === '') delete out[k];
  return out;
}
