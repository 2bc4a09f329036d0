import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../../storage-drivers/types';
import type { NotificationsConfig } from '../config/notifications-schema';
import type { GcDeletion } from '../oci/gc';
import { BLOB_MEDIA_TYPE, createEvent, type EventSource, type EventTarget, type RegistryEvent } from './event';
import { wantedActions } from './filter';
import { EventJournal, listSegments, segmentEvents } from './journal';

/**
 * Berth's action for what garbage collection deletes. Not Distribution's `delete`: receivers that
 * act on a user's delete (Harbor's, scanners') must not take a collection for one, and those that
 * switch on the action ignore one they do not know.
 */
export const GC_DELETE_ACTION = 'gc.delete';

/**
 * One collection's deletions as events. A manifest's target names its repository and digest, as a
 * delete by digest does; a blob's has no repository (blob data is shared by every repository) and
 * Distribution's media type for blobs. No actor (no user asked) and no tag (only untagged manifests
 * are collected); one request id for the whole collection, so a receiver can group its deletions.
 */
export function gcDeletionEvents(deletions: GcDeletion[], source: EventSource): RegistryEvent[] {
  const origin = { request: { id: randomUUID(), method: '', useragent: '' } };
  return deletions.map((d) => {
    const target: EventTarget =
      d.kind === 'manifest' ? { repository: d.repository, digest: d.digest } : { repository: '', mediaType: BLOB_MEDIA_TYPE, digest: d.digest, size: d.size };
    return createEvent(GC_DELETE_ACTION, target, origin, source);
  });
}

/**
 * For the offline `berth gc`: writes the collection's events to the same journal a running Berth
 * delivers from. Undefined when no enabled endpoint wants them. With `backlog.full: refuse`, a full
 * backlog fails the collection before it deletes anything.
 */
export function gcDeletionRecorder(config: NotificationsConfig, deps: { driver: StorageDriver; source: EventSource }): ((deletions: GcDeletion[]) => Promise<void>) | undefined {
  if (!wantedActions(config.endpoints).has(GC_DELETE_ACTION)) return undefined;
  const refuse = config.backlog.full === 'refuse';
  const journal = new EventJournal(deps.driver, deps.source.instanceID, undefined, refuse ? config.backlog.maxevents : Infinity);
  return async (deletions) => {
    if (refuse) {
      // This process has never listed the journal: count what waits, so the bound holds.
      const listed = journal.beginListing();
      listed((await listSegments(deps.driver)).reduce((n, s) => n + segmentEvents(s), 0));
    }
    await journal.append(gcDeletionEvents(deletions, deps.source));
  };
}
