import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/types';
import type { EventAction, NotificationsConfig } from '../config/notifications-schema';
import type { GcDeletion } from '../oci/gc';
import { createEvent, type EventOrigin, type EventSource, type EventTarget } from './event';
import { GC_DELETE_ACTION, gcDeletionEvents } from './gc-events';
import { EventDeliverer, type DeliveryObserver } from './deliverer';
import { wantedActions } from './filter';
import { EventJournal } from './journal';
import { postEvents } from './sender';

/** An idle endpoint looks for segments written by other processes this often. */
const POLL_MS = 2_000;

/** Records events durably and delivers them in the background (docs/architecture.md, "Notifications"). */
export interface Notifier {
  /** Whether events of this action are recorded at all (some endpoint wants them). */
  wants(action: EventAction): boolean;
  /** `notifications.events.includereferences`: manifest events list what the manifest references. */
  readonly includeReferences: boolean;
  /**
   * Resolves once the event is in storage; the caller acknowledges its request only then. Pulls are
   * written without a sync (EventJournal.append): they survive a crash of Berth, not of the machine.
   */
  record(action: EventAction, target: EventTarget, origin: EventOrigin): Promise<void>;
  /** What a collection is about to delete, stored before it deletes; undefined when no endpoint wants it. */
  recordGcDeletions?: (deletions: GcDeletion[]) => Promise<void>;
  startDelivery(): void;
  stop(): Promise<void>;
}

/**
 * The other workers of a group (src/workers): only slot 0 delivers, so the others tell it of each
 * segment they write instead of leaving it to the next poll.
 */
export interface EventPeers {
  /** This process wrote a segment. */
  written(): void;
  /** Calls `wake` when another process of the group wrote one. */
  onWritten(wake: () => void): void;
}

export interface NotifierDeps {
  driver: StorageDriver;
  logger: Logger;
  source: EventSource;
  pollMs?: number;
  observer?: DeliveryObserver;
  peers?: EventPeers;
}

/** Undefined when no endpoint is enabled: nothing is recorded, and requests pay nothing. */
export function createNotifier(config: NotificationsConfig, deps: NotifierDeps): Notifier | undefined {
  const endpoints = config.endpoints.filter((e) => !e.disabled);
  if (endpoints.length === 0) return undefined;
  const wanted = wantedActions(endpoints);
  const { backlog } = config;
  const written = () => {
    deliverer.wake();
    deps.peers?.written();
  };
  const journal = new EventJournal(deps.driver, deps.source.instanceID, written, backlog.full === 'refuse' ? backlog.maxevents : Infinity);
  const deliverer = new EventDeliverer({
    driver: deps.driver,
    endpoints,
    logger: deps.logger,
    send: postEvents,
    pollMs: deps.pollMs ?? POLL_MS,
    backlog,
    beginListing: () => journal.beginListing(),
    recentSegment: (segment) => journal.recentSegment(segment),
    forget: (segment) => journal.forget(segment),
    owner: deps.source.instanceID,
    takeoverMs: config.takeover,
    observer: deps.observer,
  });
  deps.peers?.onWritten(() => deliverer.wake());
  return {
    wants: (action) => wanted.has(action),
    includeReferences: config.events.includereferences,
    record: (action, target, origin) => journal.append([createEvent(action, target, origin, deps.source)], action !== 'pull'),
    recordGcDeletions: wanted.has(GC_DELETE_ACTION) ? (deletions) => journal.append(gcDeletionEvents(deletions, deps.source)) : undefined,
    startDelivery: () => deliverer.start(),
    stop: () => deliverer.stop(),
  };
}
